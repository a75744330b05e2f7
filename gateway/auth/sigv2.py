"""AWS Signature Version 2 for S3 (``AWS key:signature`` and the ``AWSAccessKeyId/Expires/Signature``
presigned query), still what boto3 and aws-cli presign with against a custom endpoint by default.

The string to sign is the method, Content-MD5, Content-Type, the date (or Expires), the x-amz-*
headers, and the resource: ``/bucket`` + path as sent, plus the sub-resources S3 signs, with their
values decoded — as botocore's HmacV1Auth and s3cmd build it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence

from gateway.auth.request import (
    QueryPair,
    RequestView,
    check_skew,
    has_lowercase_escape,
    missing_date,
    parse_any_date,
    query_first,
    signed_bytes,
)
from gateway.errors import S3Error

#: query parameters that are part of the signed resource: AWS's documented list, plus those botocore
#: and s3cmd sign (cors, restore, …), plus the response-* overrides.
SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory", "lifecycle",
        "location", "logging", "metrics", "notification", "object-lock", "partNumber", "policy",
        "replication", "requestPayment", "restore", "select", "select-type", "storageClass", "tagging",
        "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    }
)  # fmt: skip

SecretLookup = Callable[[str], "str | None"]


def canonical_resource(view: RequestView, pairs: Sequence[QueryPair]) -> str:
    path = view.raw_path or "/"
    if view.virtual_host_bucket:
        path = f"/{view.virtual_host_bucket}{path}"
    subresources = [pair for pair in pairs if pair.name_str in SUBRESOURCES]
    if not subresources:
        return path
    subresources.sort(key=lambda pair: pair.name)
    rendered = [f"{p.name_str}={p.value_str}" if p.has_equals else p.name_str for p in subresources]
    return f"{path}?{'&'.join(rendered)}"


def _resource_views(view: RequestView) -> list[RequestView]:
    """The request as signed: botocore signs a path-style bucket root ``/bkt`` as ``/bkt/`` (the form
    its virtual-host conversion gives), and AWS accepts both, so both are tried."""
    path = view.raw_path or "/"
    if not view.virtual_host_bucket and path.count("/") == 1 and len(path) > 1:
        return [view, dataclasses.replace(view, raw_path=path + "/")]
    return [view]


def _amz_headers(headers: Mapping[str, str]) -> str:
    names = sorted(name for name in headers if name.startswith("x-amz-"))
    return "".join(f"{name}:{headers[name].strip()}\n" for name in names)


def string_to_sign(
    view: RequestView, pairs: Sequence[QueryPair], headers: Mapping[str, str], date: str
) -> str:
    return (
        f"{view.method}\n{headers.get('content-md5', '').strip()}\n{headers.get('content-type', '').strip()}\n"
        f"{date}\n{_amz_headers(headers)}{canonical_resource(view, pairs)}"
    )


def _signatures(secret: str, sts: str) -> list[str]:
    """The signature of each byte spelling of ``sts`` (non-ASCII header values: see signed_bytes)."""
    return [
        base64.b64encode(hmac.new(secret.encode("utf-8"), spelling, hashlib.sha1).digest()).decode("ascii")
        for spelling in signed_bytes(sts)
    ]


def _secret(secret_for: SecretLookup, access_key: str) -> str:
    secret = secret_for(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    return secret


def _compare(view: RequestView, candidates: list[str], secret: str, provided: str, access_key: str) -> None:
    acceptable = not has_lowercase_escape(view.query_string)
    for sts in candidates:
        for signature in _signatures(secret, sts):
            if hmac.compare_digest(signature.encode(), provided.strip().encode()) and acceptable:
                return
    raise S3Error(
        "SignatureDoesNotMatch",
        AWSAccessKeyId=access_key,
        StringToSign=candidates[0],
        SignatureProvided=provided,
    )


def verify_header(
    view: RequestView,
    pairs: Sequence[QueryPair],
    secret_for: SecretLookup,
    now: datetime.datetime,
    max_skew: datetime.timedelta,
) -> str:
    """Check ``Authorization: AWS key:signature``; return the access key."""
    credentials = view.headers["authorization"].strip()[4:].strip()
    access_key, colon, provided = credentials.rpartition(":")
    if not colon or not access_key or not provided:
        raise S3Error(
            "InvalidArgument", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
        )
    amz_date = view.headers.get("x-amz-date")
    http_date = view.headers.get("date")
    when = parse_any_date(amz_date if amz_date is not None else http_date or "")
    if when is None:
        raise missing_date()
    secret = _secret(secret_for, access_key)
    check_skew(when, now, max_skew)
    # With x-amz-date, AWS signs an empty Date line; some clients sign the Date header anyway.
    dates = [""] if amz_date is not None else [(http_date or "").strip()]
    if amz_date is not None and http_date:
        dates.append(http_date.strip())
    candidates = [string_to_sign(v, pairs, view.headers, d) for v in _resource_views(view) for d in dates]
    _compare(view, candidates, secret, provided, access_key)
    return access_key


def verify_presigned(
    view: RequestView, pairs: Sequence[QueryPair], secret_for: SecretLookup, now: datetime.datetime
) -> str:
    """Check ``?AWSAccessKeyId=&Expires=&Signature=``; return the access key."""
    access_key = query_first(pairs, "AWSAccessKeyId")
    provided = query_first(pairs, "Signature")
    expires = query_first(pairs, "Expires")
    if not access_key or not provided or expires is None:
        raise S3Error(
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        )
    if not expires.strip().isdigit():
        raise S3Error("AccessDenied", "Invalid date (should be seconds since epoch): " + expires)
    secret = _secret(secret_for, access_key)
    if now.timestamp() > int(expires):
        raise S3Error("AccessDenied", "Request has expired", Expires=expires, ServerTime=now.isoformat())
    # botocore moves Content-MD5, Content-Type and x-amz-* headers into the query when presigning.
    headers = dict(view.headers)
    for pair in pairs:
        name = pair.name_str.lower()
        if (name.startswith("x-amz-") or name in ("content-md5", "content-type")) and name not in headers:
            headers[name] = pair.value_str
    candidates = [string_to_sign(v, pairs, headers, expires.strip()) for v in _resource_views(view)]
    _compare(view, candidates, secret, provided, access_key)
    return access_key
