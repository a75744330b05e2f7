"""The POST policy of a browser form upload: who signed it, and whether the form obeys it (pure code).

A form carries a base64 JSON policy (an expiration and conditions on the form's fields) and a signature
over that base64 text: SigV4 (``x-amz-algorithm``, ``x-amz-credential``, ``x-amz-date``,
``x-amz-signature``; the key derived as for any SigV4 request) or SigV2 (``AWSAccessKeyId``,
``signature`` = base64 HMAC-SHA1). The signature makes the policy the owner's word; the conditions then
bound what the browser may send: ``eq`` / exact match, ``starts-with``, ``content-length-range``, and
every field not exempt must be named by a condition. Each failure is S3's error for it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.auth.request import AMZ_DATE_FORMAT
from gateway.auth.sigv4 import ALGORITHM, sign, signatures_equal, signing_key
from gateway.errors import S3Error

#: Fields no condition needs to name (S3's list; ``x-ignore-*`` too).
EXEMPT = frozenset({"x-amz-signature", "signature", "awsaccesskeyid", "file", "policy"})
V4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")

SecretLookup = Callable[[str], "str | None"]


def missing_field(name: str) -> S3Error:
    return S3Error(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of "
        "the fields.",
        ArgumentName=name,
        ArgumentValue="",
    )


def _invalid_policy(detail: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {detail}")


def _refused(detail: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {detail}")


@dataclass(frozen=True)
class Condition:
    """One condition: ``op`` is ``eq``, ``starts-with`` or ``content-length-range``."""

    op: str
    field: str = ""  # lower-case, without the ``$``
    value: str = ""
    low: int = 0
    high: int = 0

    def describe(self) -> str:
        if self.op == "content-length-range":
            return json.dumps([self.op, self.low, self.high])
        return json.dumps([self.op, f"${self.field}", self.value])

    def holds(self, value: str) -> bool:
        return value == self.value if self.op == "eq" else value.startswith(self.value)


@dataclass(frozen=True)
class PostPolicy:
    expiration: dt.datetime
    conditions: tuple[Condition, ...]

    @property
    def length_range(self) -> tuple[int | None, int | None]:
        """The content-length-range bounds (the tightest, when several are given)."""
        ranges = [c for c in self.conditions if c.op == "content-length-range"]
        if not ranges:
            return None, None
        return max(c.low for c in ranges), min(c.high for c in ranges)


def _parse_expiration(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise _invalid_policy(f"Invalid 'expiration' value: '{value}'")
    text = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    raise _invalid_policy(f"Invalid 'expiration' value: '{value}'")


def _field_name(value: Any, condition: Any) -> str:
    if not isinstance(value, str) or not value.startswith("$") or len(value) < 2:
        raise _invalid_policy(f"Invalid Condition: {json.dumps(condition)}")
    return value[1:].lower()


def _length(value: Any, condition: Any) -> int:
    if isinstance(value, bool):
        raise _invalid_policy(f"Invalid content-length-range: {json.dumps(condition)}")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    raise _invalid_policy(f"Invalid content-length-range: {json.dumps(condition)}")


def _parse_condition(raw: Any) -> list[Condition]:
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise _invalid_policy(f"Invalid Simple-Condition: {json.dumps(raw)}")
        ((name, value),) = raw.items()
        if not isinstance(value, str):
            raise _invalid_policy("Invalid Simple-Condition: value must be a string.")
        return [Condition("eq", name.lower(), value)]
    if isinstance(raw, list) and len(raw) == 3 and isinstance(raw[0], str):
        op = raw[0].lower()
        if op == "content-length-range":
            low, high = _length(raw[1], raw), _length(raw[2], raw)
            return [Condition(op, low=low, high=high)]
        if op in ("eq", "starts-with"):
            if not isinstance(raw[2], str):
                raise _invalid_policy(f"Invalid Condition: {json.dumps(raw)}")
            return [Condition(op, _field_name(raw[1], raw), raw[2])]
        raise _invalid_policy(f"Invalid Condition: unknown operation '{raw[0]}'")
    raise _invalid_policy(f"Invalid Condition: {json.dumps(raw)}")


def parse_policy(encoded: str) -> PostPolicy:
    """The base64 ``policy`` field → its expiration and conditions; InvalidPolicyDocument otherwise."""
    try:
        document = json.loads(base64.b64decode(encoded.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid_policy("Invalid JSON.")
    if "expiration" not in document:
        raise _invalid_policy("Policy missing expiration.")
    expiration = _parse_expiration(document["expiration"])
    raw_conditions = document.get("conditions")
    if not isinstance(raw_conditions, list):
        raise _invalid_policy("Policy missing conditions.")
    conditions = [c for raw in raw_conditions for c in _parse_condition(raw)]
    return PostPolicy(expiration, tuple(conditions))


def check_policy(policy: PostPolicy, fields: Mapping[str, str], bucket: str, now: dt.datetime) -> None:
    """The form obeys the policy: not expired, every condition holds, every field is named by one.
    ``fields`` are the form's fields before the file, names lower-cased."""
    if now >= policy.expiration:
        raise _refused("Policy expired.")
    covered = set()
    for condition in policy.conditions:
        if condition.op == "content-length-range":
            continue  # enforced on the file's bytes as they stream
        covered.add(condition.field)
        value = bucket if condition.field == "bucket" else fields.get(condition.field, "")
        if not condition.holds(value):
            raise _refused(f"Policy Condition failed: {condition.describe()}")
    for name in fields:
        if name not in EXEMPT and not name.startswith("x-ignore-") and name not in covered:
            raise _refused(f"Extra input fields: {name}")


def _required(fields: Mapping[str, str], name: str, shown: str) -> str:
    value = fields.get(name)
    if value is None:
        raise missing_field(shown)
    return value


def _secret(secret_for: SecretLookup, access_key: str) -> str:
    secret = secret_for(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    return secret


def _mismatch(access_key: str, policy: str, provided: str) -> S3Error:
    return S3Error(
        "SignatureDoesNotMatch", AWSAccessKeyId=access_key, StringToSign=policy, SignatureProvided=provided
    )


def _verify_v4(fields: Mapping[str, str], secret_for: SecretLookup) -> str:
    values = {name: _required(fields, name, name.title()) for name in V4_FIELDS}
    policy = _required(fields, "policy", "policy")
    if values["x-amz-algorithm"].strip() != ALGORITHM:
        raise S3Error(
            "InvalidArgument",
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
            ArgumentName="x-amz-algorithm",
        )
    parts = values["x-amz-credential"].strip().rsplit("/", 4)
    if len(parts) != 5 or not all(parts) or parts[3] != "s3" or parts[4] != "aws4_request":
        raise S3Error(
            "InvalidArgument",
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            ArgumentName="x-amz-credential",
            ArgumentValue=values["x-amz-credential"],
        )
    access_key, date, region, service, _ = parts
    try:
        when = dt.datetime.strptime(values["x-amz-date"].strip(), AMZ_DATE_FORMAT)
    except ValueError:
        raise S3Error(
            "InvalidArgument",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            ArgumentName="x-amz-date",
            ArgumentValue=values["x-amz-date"],
        ) from None
    if when.strftime("%Y%m%d") != date:
        raise S3Error(
            "InvalidArgument",
            "Invalid credential date. Date is not the same as X-Amz-Date.",
            ArgumentName="x-amz-credential",
            ArgumentValue=values["x-amz-credential"],
        )
    secret = _secret(secret_for, access_key)
    expected = sign(signing_key(secret, date, region, service), policy)
    provided = values["x-amz-signature"].strip()
    if not signatures_equal(expected, provided):
        raise _mismatch(access_key, policy, provided)
    return access_key


def _verify_v2(fields: Mapping[str, str], secret_for: SecretLookup) -> str:
    access_key = fields["awsaccesskeyid"].strip()
    provided = _required(fields, "signature", "Signature").strip()
    policy = _required(fields, "policy", "Policy")
    secret = _secret(secret_for, access_key)
    digest = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode("ascii")
    if not hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
        raise _mismatch(access_key, policy, provided)
    return access_key


def authenticate(fields: Mapping[str, str], secret_for: SecretLookup) -> str | None:
    """The access key whose signature the form carries (its policy then required), None for an
    anonymous form (no signature fields)."""
    if any(name in fields for name in V4_FIELDS):
        return _verify_v4(fields, secret_for)
    if "awsaccesskeyid" in fields:
        return _verify_v2(fields, secret_for)
    return None
