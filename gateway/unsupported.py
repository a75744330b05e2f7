"""Request headers that ask for protection the gateway does not give: refused, never ignored (pure code).

A client that sends SSE-C keys, asks for SSE-S3 or KMS encryption, an Object Lock retention or legal
hold or a website redirect believes the stored object carries them. Answering
200 and storing plain, unlocked, untagged bytes tells it something false about its data, which is worse
than any error: until each feature exists, such a request is refused on every operation and backend.
``x-amz-expected-bucket-owner`` (``x-amz-source-expected-bucket-owner``) naming another canonical id
than the bucket's (the copy source's) owner is AccessDenied, as S3 answers. ACL headers are no longer
here: gateway.acl and the ownership controls decide them (gateway.ops.acls).

The table is checked after authorisation (an anonymous or unauthorised caller still gets AccessDenied)
and before any handler reads the body, so nothing reaches a backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.errors import S3Error

Refuse = Callable[[str], bool]


def _always(_: str) -> bool:
    return True


def _not_in(*allowed: str) -> Refuse:
    lowered = {a.lower() for a in allowed}
    return lambda value: value.strip().lower() not in lowered


def _never(_: str) -> bool:
    return False


def _kms(value: str) -> bool:
    return value.strip().lower().startswith("aws:kms")


@dataclass(frozen=True)
class Rule:
    header: str
    refuse: Refuse
    code: str
    message: str
    #: What is still refused on a bucket whose backend encrypts (the ``encrypt`` composite serves SSE-S3
    #: and SSE-C there); None: the rule holds there too.
    refuse_when_encrypting: Refuse | None = None


_SSE_C = "Server-side encryption with customer-provided keys (SSE-C) is not implemented."
_SSE = "Server-side encryption (SSE-S3, SSE-KMS) is not implemented."  # SSE-S3: only with an encrypt backend
_LOCK = "Object Lock is not implemented."

RULES: tuple[Rule, ...] = (
    *(
        Rule(
            f"x-amz-{source}server-side-encryption-customer-{part}", _always, "NotImplemented", _SSE_C, _never
        )
        for source in ("", "copy-source-")
        for part in ("algorithm", "key", "key-md5")
    ),
    Rule("x-amz-server-side-encryption", _always, "NotImplemented", _SSE, _kms),
    Rule("x-amz-server-side-encryption-aws-kms-key-id", _always, "NotImplemented", _SSE),
    Rule("x-amz-server-side-encryption-context", _always, "NotImplemented", _SSE),
    Rule("x-amz-server-side-encryption-bucket-key-enabled", _not_in("false"), "NotImplemented", _SSE),
    Rule("x-amz-object-lock-mode", _always, "NotImplemented", _LOCK),
    Rule("x-amz-object-lock-retain-until-date", _always, "NotImplemented", _LOCK),
    Rule("x-amz-object-lock-legal-hold", _not_in("OFF"), "NotImplemented", _LOCK),
    Rule("x-amz-bucket-object-lock-enabled", _not_in("false"), "NotImplemented", _LOCK),
    Rule(
        "x-amz-website-redirect-location",
        _always,
        "NotImplemented",
        "Website redirects are not implemented.",
    ),
    Rule("x-amz-write-offset-bytes", _always, "NotImplemented", "Appending to an object is not implemented."),
)

_OWNER_HEADERS = ("x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner")
#: Every header the checks below read.
_WATCHED = frozenset({rule.header for rule in RULES} | set(_OWNER_HEADERS))

#: Headers of the table some operations serve themselves (on a backend that cannot, the operation
#: refuses before anything is stored): header → those operations.
_LOCK_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
SERVED_BY: dict[str, frozenset[str]] = {
    "x-amz-object-lock-mode": _LOCK_WRITES,
    "x-amz-object-lock-retain-until-date": _LOCK_WRITES,
    "x-amz-object-lock-legal-hold": _LOCK_WRITES,
    "x-amz-bucket-object-lock-enabled": frozenset({"CreateBucket"}),
}


def refuse_unsupported(
    headers: Mapping[str, str],
    owner_id: str,
    source_owner_id: str | None = None,
    operation: str = "",
    *,
    encrypting: bool = False,
) -> None:
    """Raise the S3 error for the first header that asks for what the gateway does not do (in
    ``operation``: see SERVED_BY), or that expects another owner than the bucket's (``source_owner_id``:
    the copy source bucket's); ``encrypting``: the bucket's backend encrypts, so SSE-S3 and SSE-C are
    done (see gateway.sse)."""
    if not any(name.lower() in _WATCHED for name in headers):
        return  # most requests carry none of them: one pass over the request's names, not 18 lookups
    for rule in RULES:
        if operation in SERVED_BY.get(rule.header, ()):
            continue
        value = headers.get(rule.header)
        refuse = rule.refuse
        if encrypting and rule.refuse_when_encrypting is not None:
            refuse = rule.refuse_when_encrypting
        if value is not None and refuse(value):
            error = S3Error(rule.code, rule.message)
            if rule.code == "NotImplemented":
                error.extra["Header"] = rule.header
            raise error
    for header, expected in zip(_OWNER_HEADERS, (owner_id, source_owner_id or owner_id), strict=True):
        value = headers.get(header)
        if value is not None and value.strip() != expected:
            raise S3Error("AccessDenied")
