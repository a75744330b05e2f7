"""CORS rules as S3 keeps them: the CORSConfiguration document both ways, and rule matching (pure code).

A bucket's rules come from PutBucketCors (or, for a bucket without rules, the configuration's default);
the gateway answers browsers' OPTIONS preflights from them and adds the Access-Control-* headers to the
actual answers. Matching is S3's: the first rule whose AllowedOrigin matches the Origin (one ``*``
wildcard per origin), whose AllowedMethod holds the method and whose AllowedHeader patterns cover every
requested header (names compared case-insensitively) wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from backends.wire.xml import child_text, children
from gateway.errors import S3Error
from gateway.xmlio import Doc, add, parse

#: The methods a CORS rule may allow (S3 refuses any other with InvalidRequest).
CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100
#: A CORSConfiguration of 100 rules stays far below this.
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_ID_LENGTH = 255
#: S3's message when no rule allows a request (its spelling kept).
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
#: What a preflight answer varies on, as S3 sends it.
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    def allows_origin(self, origin: str) -> bool:
        return any(wildcard_match(pattern, origin) for pattern in self.allowed_origins)

    def allows_headers(self, requested: Iterable[str]) -> bool:
        patterns = [p.lower() for p in self.allowed_headers]
        return all(any(wildcard_match(p, name.lower()) for p in patterns) for name in requested)

    @property
    def any_origin(self) -> bool:
        """The rule allows every origin with a bare ``*``: S3 then answers ``*``, not the origin."""
        return "*" in self.allowed_origins


@dataclass(frozen=True)
class CorsConfig:
    rules: tuple[CorsRule, ...] = field(default_factory=tuple)


def wildcard_match(pattern: str, value: str) -> bool:
    """``pattern`` with at most one ``*`` (any run of characters, the empty one included)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def validate_rule(rule: CorsRule) -> None:
    """S3's checks of one rule; InvalidRequest or MalformedXML as PutBucketCors answers them."""
    if not rule.allowed_origins or not rule.allowed_methods:
        raise S3Error("MalformedXML")
    for method in rule.allowed_methods:
        if method not in CORS_METHODS:
            raise S3Error(
                "InvalidRequest",
                f"Found unsupported HTTP method in CORS config. Unsupported method is {method}",
            )
    for origin in rule.allowed_origins:
        if origin.count("*") > 1:
            raise S3Error("InvalidRequest", f'AllowedOrigin "{origin}" can not have more than one wildcard.')
    for header in rule.allowed_headers:
        if header.count("*") > 1:
            raise S3Error("InvalidRequest", f'AllowedHeader "{header}" can not have more than one wildcard.')
    if rule.id is not None and len(rule.id) > MAX_ID_LENGTH:
        raise S3Error("InvalidArgument", f"ID length should not exceed allowed limit of {MAX_ID_LENGTH}")
    if rule.max_age_seconds is not None and rule.max_age_seconds < 0:
        raise S3Error("MalformedXML")


def validate(rules: Sequence[CorsRule]) -> None:
    if not rules or len(rules) > MAX_RULES:
        raise S3Error("MalformedXML")
    for rule in rules:
        validate_rule(rule)


def _texts(el: etree._Element, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in children(el, name))


def parse_config(data: bytes) -> CorsConfig:
    """A PutBucketCors body → its rules, validated; anything S3 would refuse raises its error."""
    root = parse(data)
    if etree.QName(root).localname != "CORSConfiguration":
        raise S3Error("MalformedXML")
    rules = []
    for el in children(root, "CORSRule"):
        max_age = child_text(el, "MaxAgeSeconds")
        if max_age is not None and not max_age.strip().lstrip("-").isdigit():
            raise S3Error("MalformedXML")
        rules.append(
            CorsRule(
                allowed_origins=_texts(el, "AllowedOrigin"),
                allowed_methods=_texts(el, "AllowedMethod"),
                allowed_headers=_texts(el, "AllowedHeader"),
                expose_headers=_texts(el, "ExposeHeader"),
                max_age_seconds=int(max_age) if max_age is not None else None,
                id=child_text(el, "ID"),
            )
        )
    validate(rules)
    return CorsConfig(tuple(rules))


def to_xml(config: CorsConfig) -> bytes:
    """The document GetBucketCors answers (and the one stored): elements in S3's order."""
    doc = Doc("CORSConfiguration")
    for rule in config.rules:
        el = add(doc.root, "CORSRule")
        if rule.id is not None:
            add(el, "ID", rule.id)
        for name, values in (
            ("AllowedHeader", rule.allowed_headers),
            ("AllowedMethod", rule.allowed_methods),
            ("AllowedOrigin", rule.allowed_origins),
            ("ExposeHeader", rule.expose_headers),
        ):
            for value in values:
                add(el, name, value)
        if rule.max_age_seconds is not None:
            add(el, "MaxAgeSeconds", rule.max_age_seconds)
    return doc.to_bytes()


def requested_headers(value: str | None) -> list[str]:
    """``Access-Control-Request-Headers`` → the header names, lower-cased."""
    return [name.strip().lower() for name in (value or "").split(",") if name.strip()]


def find_rule(config: CorsConfig, origin: str, method: str, headers: Iterable[str] = ()) -> CorsRule | None:
    """The first rule allowing this origin, method and every requested header; None when none does."""
    wanted = list(headers)
    for rule in config.rules:
        if rule.allows_origin(origin) and method in rule.allowed_methods and rule.allows_headers(wanted):
            return rule
    return None


def _common(rule: CorsRule, origin: str) -> dict[str, str]:
    headers = {"Access-Control-Allow-Origin": "*" if rule.any_origin else origin}
    if not rule.any_origin:
        headers["Access-Control-Allow-Credentials"] = "true"
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    return headers


def preflight_headers(rule: CorsRule, origin: str, requested: Sequence[str]) -> dict[str, str]:
    """The headers of a successful preflight answer."""
    headers = _common(rule, origin)
    if requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    headers["Vary"] = VARY
    return headers


def response_headers(config: CorsConfig, origin: str, method: str) -> dict[str, str]:
    """The headers an actual answer gets for a request from ``origin``: those of the first rule allowing
    the origin and the method; none when no rule does (the browser then withholds the answer)."""
    rule = find_rule(config, origin, method)
    if rule is None:
        return {}
    headers = _common(rule, origin)
    headers["Vary"] = VARY
    return headers


def preflight_request(origin: str | None, method: str | None) -> tuple[str, str]:
    """The Origin and Access-Control-Request-Method of a preflight, or the 400 S3 answers without them."""
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    if not method or method not in CORS_METHODS:
        raise S3Error("BadRequest", f"Invalid Access-Control-Request-Method: {method or 'null'}")
    return origin, method


def forbidden(message: str, method: str, resource_type: str) -> S3Error:
    """403 AccessForbidden, with the Method and ResourceType elements S3 adds."""
    return S3Error("AccessForbidden", message, Method=method, ResourceType=resource_type)
