"""OBS's native request signature, checked as Huawei's API reference describes it.

``Authorization: OBS <AK>:<signature>``; signature = base64(HMAC-SHA1(SK, StringToSign)) with

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedHeaders CanonicalizedResource

- Date is empty when ``x-obs-date`` is sent (that header is then signed among the x-obs-* headers);
  the request time must be within 15 minutes of the server's.
- CanonicalizedHeaders: every ``x-obs-*`` header, name lowercased, repeated headers joined by ``,``,
  value trimmed, sorted by name, each as ``name:value\\n``.
- CanonicalizedResource: ``/<bucket>/<object>`` as the request URI carries it (virtual-host requests
  prefix the bucket; path-style URIs already hold it), then the sub-resources of OBS's list present in
  the query, sorted by name, ``?a&b=v`` with values decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import unquote

from tests.emulators.core import EmulatorError, Request, parse_http_date

MAX_SKEW = 15 * 60

#: Query parameters that are signed (OBS API reference, "Authentication of Signature in a Header").
SUB_RESOURCES = frozenset(
    name.lower()
    for name in (
        "acl append attname backtosource cors customdomain delete deletebucket directcoldaccess encryption "
        "inventory length lifecycle location logging metadata modify name notification object-lock "
        "orchestration partNumber policy position quota rename replication requestPayment restore retention "
        "response-cache-control response-content-disposition response-content-encoding "
        "response-content-language response-content-type response-expires storageClass storagePolicy "
        "storageinfo tagging torrent truncate uploadId uploads versionId versioning versions website "
        "x-image-process x-image-save-bucket x-image-save-object x-obs-security-token"
    ).split()
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    security_token: str | None = None


def _denied(code: str, message: str, status: int = 403) -> EmulatorError:
    return EmulatorError(status, code, message)


def canonical_resource(req: Request, bucket: str | None, virtual_host: bool) -> str:
    resource = f"/{bucket}{req.path}" if virtual_host and bucket else req.path
    subs: list[tuple[str, str | None]] = []
    for item in req.raw_query.split("&") if req.raw_query else []:
        name, eq, value = item.partition("=")
        name = unquote(name)
        if name.lower() in SUB_RESOURCES:
            subs.append((name, unquote(value) if eq else None))
    if subs:
        subs.sort(key=lambda s: s[0])
        resource += "?" + "&".join(n if v is None else f"{n}={v}" for n, v in subs)
    return resource


def string_to_sign(req: Request, bucket: str | None, virtual_host: bool) -> str:
    obs_headers: dict[str, list[str]] = {}
    for name, value in req.headers.items():
        lower = name.lower()
        if lower.startswith("x-obs-"):
            obs_headers.setdefault(lower, []).append(value.strip())
    date = "" if "x-obs-date" in obs_headers else req.headers.get("Date", "")
    lines = [
        req.method,
        req.headers.get("Content-MD5", ""),
        req.headers.get("Content-Type", ""),
        date,
    ]
    canonical = "".join(f"{k}:{','.join(v)}\n" for k, v in sorted(obs_headers.items()))
    return "\n".join(lines) + "\n" + canonical + canonical_resource(req, bucket, virtual_host)


def sign(secret_key: str, text: str) -> str:
    digest = hmac.new(secret_key.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify(req: Request, bucket: str | None, virtual_host: bool, creds: Credentials) -> None:
    """Refuse the request unless it carries a valid, fresh OBS signature by the configured key."""
    auth = req.headers.get("Authorization")
    if not auth:
        raise _denied("AccessDenied", "Anonymous access is not allowed by this emulator.")
    scheme, _, rest = auth.partition(" ")
    if scheme != "OBS":
        raise _denied(
            "InvalidArgument", f"Unsupported Authorization Type {scheme!r}; only OBS is served.", 400
        )
    access_key, sep, signature = rest.strip().rpartition(":")
    if not sep or not access_key:
        raise _denied("InvalidArgument", "Authorization header is malformed.", 400)
    if not hmac.compare_digest(access_key, creds.access_key):
        raise _denied("InvalidAccessKeyId", "The access key Id you provided does not exist in our records.")
    token = req.headers.get("x-obs-security-token")
    if token is not None and token != creds.security_token:
        raise _denied("InvalidToken", "The provided security token is malformed or otherwise invalid.")
    when = parse_http_date(req.headers.get("x-obs-date") or req.headers.get("Date"))
    if when is None:
        raise _denied("AccessDenied", "The request carries no valid Date or x-obs-date.")
    if abs(time.time() - when) > MAX_SKEW:
        raise _denied(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        )
    expected = sign(creds.secret_key, string_to_sign(req, bucket, virtual_host))
    if not hmac.compare_digest(expected, signature):
        raise EmulatorError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            StringToSign=string_to_sign(req, bucket, virtual_host),
        )
