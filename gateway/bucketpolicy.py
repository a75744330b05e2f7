"""Bucket policies: the JSON document parsed and checked once, at PutBucketPolicy, then evaluated per
request (pure code).

What is understood is enforced, and everything else is refused with MalformedPolicy naming it: a policy
the gateway accepted and then ignored in part would allow or deny other than its author believes.

- ``Effect`` Allow or Deny; an explicit Deny wins over any Allow (``evaluate`` answers "Deny").
- ``Principal``: ``"*"``, ``{"AWS": "*"}``, ``{"AWS": [...]}`` naming configured identities by access
  key, canonical id or ``arn:aws:iam::<account>:user/<access key or display name>``, and
  ``{"CanonicalUser": [...]}``. ``NotPrincipal`` is refused.
- ``Action`` / ``NotAction`` with ``*`` and ``?`` (case-insensitive, as IAM), ``Resource`` /
  ``NotResource`` ARNs of this bucket (``arn:aws:s3:::bucket`` and ``arn:aws:s3:::bucket/key*``).
- ``Condition``: the String, Numeric, Date, Bool, IpAddress/NotIpAddress and Null operators, their
  ``...IfExists`` forms and the ``ForAnyValue:`` / ``ForAllValues:`` qualifiers, over the keys in
  ``CONDITION_KEYS``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import S3Error
from gateway.iamactions import KNOWN_ACTIONS, OBJECT_ACTIONS
from gateway.identity import Identities, Identity

MAX_POLICY_BYTES = 20 * 1024
VERSIONS = ("2012-10-17", "2008-10-17")
ARN_PREFIX = "arn:aws:s3:::"
#: Condition keys the gateway knows the value of (lowercase, as IAM compares them).
CONDITION_KEYS = frozenset(
    {
        "aws:sourceip", "aws:securetransport", "aws:referer", "aws:useragent", "aws:currenttime",
        "aws:epochtime", "aws:username", "aws:userid", "aws:principaltype", "s3:prefix", "s3:delimiter",
        "s3:max-keys", "s3:x-amz-acl", "s3:x-amz-content-sha256", "s3:authtype", "s3:signatureversion",
        "s3:x-amz-copy-source", "s3:x-amz-metadata-directive", "s3:x-amz-storage-class",
    }
)  # fmt: skip
Effect = Literal["Allow", "Deny"]
#: The request's condition context: key (lowercase) → its values (absent keys are missing).
Context = Mapping[str, Sequence[str]]


def malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message)


# -- matching --------------------------------------------------------------------------------------
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's ``*`` / ``?`` matching of a whole value."""
    return _wildcard(pattern, ignore_case=ignore_case).fullmatch(value) is not None


# -- conditions ------------------------------------------------------------------------------------
def _number(value: str) -> float:
    return float(value)


def _date(value: str) -> float:
    if re.fullmatch(r"\d+", value):
        return float(value)
    text = value.replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _ip(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)


def _bool(value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise ValueError(value)
    return value.lower()


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a != b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class Operator:
    """A condition operator: ``test(request value, policy value)``; ``negated`` operators hold when no
    policy value matches, and when the key is missing."""

    test: Callable[[str, str], bool]
    check: Callable[[str], object]
    negated: bool = False


def _operators() -> dict[str, Operator]:
    ops: dict[str, Operator] = {
        "StringEquals": Operator(lambda r, p: r == p, str),
        "StringNotEquals": Operator(lambda r, p: r == p, str, negated=True),
        "StringEqualsIgnoreCase": Operator(lambda r, p: r.lower() == p.lower(), str),
        "StringNotEqualsIgnoreCase": Operator(lambda r, p: r.lower() == p.lower(), str, negated=True),
        "StringLike": Operator(lambda r, p: like(p, r), str),
        "StringNotLike": Operator(lambda r, p: like(p, r), str, negated=True),
        "Bool": Operator(lambda r, p: r.lower() == p.lower(), _bool),
        "IpAddress": Operator(lambda r, p: _in_network(r, p), _ip),
        "NotIpAddress": Operator(lambda r, p: _in_network(r, p), _ip, negated=True),
    }
    for name, compare in _COMPARE.items():
        negated = name == "NotEquals"
        base = (lambda c: lambda r, p: c(_number(r), _number(p)))(
            compare if not negated else _COMPARE["Equals"]
        )
        dates = (lambda c: lambda r, p: c(_date(r), _date(p)))(compare if not negated else _COMPARE["Equals"])
        ops[f"Numeric{name}"] = Operator(base, _number, negated=negated)
        ops[f"Date{name}"] = Operator(dates, _date, negated=negated)
    return ops


def _in_network(request_ip: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(request_ip) in _ip(network)
    except ValueError:
        return False


OPERATORS = _operators()


@dataclass(frozen=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]
    if_exists: bool = False
    qualifier: Literal["", "ForAnyValue", "ForAllValues"] = ""

    def holds(self, context: Context) -> bool:
        if self.operator == "Null":
            present = bool(context.get(self.key))
            return any((v.lower() == "true") != present for v in self.values)
        op = OPERATORS[self.operator]
        found = context.get(self.key)
        if not found:
            if self.qualifier == "ForAllValues":
                return True
            return self.if_exists or (op.negated and self.qualifier == "")
        if self.qualifier == "ForAllValues":
            return all(self._one(op, value) for value in found)
        return any(self._one(op, value) for value in found)

    def _one(self, op: Operator, value: str) -> bool:
        try:
            hit = any(op.test(value, p) for p in self.values)
        except ValueError:
            hit = False
        return not hit if op.negated else hit


def _conditions(raw: Any) -> tuple[Condition, ...]:
    if not isinstance(raw, dict):
        raise malformed("Condition must be an object")
    found: list[Condition] = []
    for spec, block in raw.items():
        qualifier, _, name = spec.rpartition(":")
        if qualifier not in ("", "ForAnyValue", "ForAllValues"):
            raise malformed(f"Invalid Condition type : {spec}")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        base = name[: -len("IfExists")] if if_exists else name
        if base not in OPERATORS and base != "Null":
            raise malformed(f"Invalid Condition type : {spec}")
        if not isinstance(block, dict) or not block:
            raise malformed(f"Condition {spec} must map keys to values")
        for key, values in block.items():
            if key.lower() not in CONDITION_KEYS:
                raise malformed(f"Policy has an invalid condition key: {key}")
            listed = values if isinstance(values, list) else [values]
            if not listed or not all(isinstance(v, (str, int, float, bool)) for v in listed):
                raise malformed(f"Invalid value for condition key {key}")
            texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in listed)
            check = _bool if base == "Null" else OPERATORS[base].check
            for text in texts:
                try:
                    check(text)
                except ValueError:
                    raise malformed(f"Invalid value for condition {spec} on {key}: {text}") from None
            found.append(Condition(base, key.lower(), texts, if_exists, qualifier))  # type: ignore[arg-type]
    return tuple(found)


# -- statements ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Statement:
    effect: Effect
    #: None: everyone (``*``), anonymous callers included; else canonical ids.
    principals: frozenset[str] | None
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...] = ()

    def applies(self, caller: Identity | None, action: str, resource: str, context: Context) -> bool:
        if self.principals is not None and (caller is None or caller.canonical_id not in self.principals):
            return False
        acted = any(like(a, action, ignore_case=True) for a in self.actions)
        if acted == self.not_action:
            return False
        named = any(like(r, resource) for r in self.resources)
        if named == self.not_resource:
            return False
        return all(c.holds(context) for c in self.conditions)

    def is_public(self) -> bool:
        """An Allow to everyone, not narrowed to fixed callers by an IP range or a user condition."""
        if self.effect != "Allow" or self.principals is not None:
            return False
        return not any(
            (
                c.key == "aws:sourceip"
                and c.operator == "IpAddress"
                and not any(v.endswith("/0") for v in c.values)
            )
            or (
                c.key in ("aws:userid", "aws:username")
                and c.operator in ("StringEquals", "StringEqualsIgnoreCase")
            )
            for c in self.conditions
        )


_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


def _strings(raw: Any, what: str) -> tuple[str, ...]:
    listed = raw if isinstance(raw, list) else [raw]
    if not listed or not all(isinstance(v, str) and v for v in listed):
        raise malformed(f"{what} must be a string or a list of strings")
    return tuple(listed)


def _principals(raw: Any, identities: Identities) -> frozenset[str] | None:
    if raw == "*":
        return None
    if not isinstance(raw, dict) or not raw:
        raise malformed("Invalid principal in policy")
    ids: set[str] = set()
    for kind, names in raw.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise malformed(f"Invalid principal in policy: {kind} principals are not supported")
        for name in _strings(names, "Principal"):
            if name == "*" and kind == "AWS":
                return None
            found = identities.by_id(name) if kind == "CanonicalUser" else identities.by_principal(name)
            if found is None:
                raise malformed(f"Invalid principal in policy: {name}")
            ids.add(found.canonical_id)
    return frozenset(ids)


def _actions(raw: Any) -> tuple[str, ...]:
    actions = _strings(raw, "Action")
    for action in actions:
        if action == "*":
            continue
        if not action.lower().startswith("s3:"):
            raise malformed(f"Policy has invalid action: {action}")
        if (
            "*" not in action
            and "?" not in action
            and not any(action.lower() == k.lower() for k in KNOWN_ACTIONS)
        ):
            raise malformed(f"Policy has invalid action: {action}")
    return actions


def _resources(raw: Any, bucket: str) -> tuple[str, ...]:
    resources = _strings(raw, "Resource")
    for resource in resources:
        if resource == "*":
            continue
        if not resource.startswith(ARN_PREFIX):
            raise malformed(f"Policy has invalid resource: {resource}")
        named = resource[len(ARN_PREFIX) :].split("/", 1)[0]
        if not like(named, bucket):
            raise malformed(f"Policy has invalid resource: {resource}")
    return resources


def _statement(raw: Any, bucket: str, identities: Identities) -> Statement:
    if not isinstance(raw, dict):
        raise malformed("Statement must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise malformed(f"Unknown field {sorted(unknown)[0]}")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise malformed(f"Invalid effect: {raw.get('Effect')}")
    if "NotPrincipal" in raw:
        raise malformed("NotPrincipal is not supported")
    if "Principal" not in raw:
        raise malformed("Missing required field Principal")
    if ("Action" in raw) == ("NotAction" in raw):
        raise malformed("Statement needs exactly one of Action and NotAction")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise malformed("Statement needs exactly one of Resource and NotResource")
    not_action, not_resource = "NotAction" in raw, "NotResource" in raw
    actions = _actions(raw["NotAction" if not_action else "Action"])
    resources = _resources(raw["NotResource" if not_resource else "Resource"], bucket)
    if not not_action and not not_resource:
        _check_applies(actions, resources)
    return Statement(
        effect=raw["Effect"],
        principals=_principals(raw["Principal"], identities),
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=_conditions(raw["Condition"]) if "Condition" in raw else (),
    )


def _check_applies(actions: tuple[str, ...], resources: tuple[str, ...]) -> None:
    """S3 refuses a statement whose actions all act on objects while its resources are all buckets (and
    the other way round)."""
    concrete = [a for a in actions if "*" not in a and "?" not in a]
    if len(concrete) != len(actions) or any(r == "*" or "*" in r.split("/", 1)[0] for r in resources):
        return
    on_objects = {a.lower() in {o.lower() for o in OBJECT_ACTIONS} for a in concrete}
    has_object_arn = any("/" in r for r in resources)
    has_bucket_arn = any("/" not in r for r in resources)
    if (on_objects == {True} and not has_object_arn) or (on_objects == {False} and not has_bucket_arn):
        raise malformed("Action does not apply to any resource(s) in statement")


@dataclass(frozen=True)
class BucketPolicy:
    statements: tuple[Statement, ...]

    def evaluate(
        self, caller: Identity | None, action: str, resource: str, context: Context, *, public: bool = True
    ) -> Effect | None:
        """ "Deny" when a Deny statement applies, else "Allow" when an Allow does, else None. With
        ``public=False`` public Allow statements are left out (RestrictPublicBuckets)."""
        allowed = False
        for statement in self.statements:
            if not statement.applies(caller, action, resource, context):
                continue
            if statement.effect == "Deny":
                return "Deny"
            if public or not statement.is_public():
                allowed = True
        return "Allow" if allowed else None

    def is_public(self) -> bool:
        return any(s.is_public() for s in self.statements)


def parse(document: bytes, bucket: str, identities: Identities) -> BucketPolicy:
    """The policy of a PutBucketPolicy body; MalformedPolicy naming the first problem."""
    if len(document) > MAX_POLICY_BYTES:
        raise malformed("Policy exceeds the maximum allowed document size.")
    try:
        raw = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise malformed("Policies must be valid JSON and the first byte must be '{'") from None
    if not isinstance(raw, dict):
        raise malformed("Policies must be valid JSON and the first byte must be '{'")
    unknown = set(raw) - {"Version", "Id", "Statement"}
    if unknown:
        raise malformed(f"Unknown field {sorted(unknown)[0]}")
    if "Version" in raw and raw["Version"] not in VERSIONS:
        raise malformed(f"Invalid policy version: {raw['Version']}")
    statements = raw.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise malformed("Missing required field Statement")
    return BucketPolicy(tuple(_statement(s, bucket, identities) for s in statements))


def resource_arn(bucket: str, key: str | None) -> str:
    return ARN_PREFIX + bucket + ("/" + key if key is not None else "")
