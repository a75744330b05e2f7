"""OSS request signatures, verified the way Alibaba's API reference defines them.

V1: ``Authorization: OSS <ak>:<base64 hmac-sha1>`` over VERB, Content-MD5, Content-Type, Date (or
x-oss-date), CanonicalizedOSSHeaders and CanonicalizedResource (``/bucket/key`` plus the sub-resources OSS
lists). V4: ``OSS4-HMAC-SHA256 Credential=<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request,
[AdditionalHeaders=h1;h2,] Signature=<hex>`` with x-oss-date and x-oss-content-sha256.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

from tests.emulators.core import EmulatorError, Request, parse_http_date

MAX_SKEW = 15 * 60

#: Query parameters that are part of V1's CanonicalizedResource (OSS's sub-resource list).
SUBRESOURCES = frozenset(
    """acl uploads location cors logging website referer lifecycle delete append tagging objectMeta uploadId
    partNumber security-token position img style styleName replication replicationProgress replicationLocation
    cname bucketInfo comp qos live status vod startTime endTime symlink x-oss-process response-content-type
    x-oss-traffic-limit response-content-language response-expires response-cache-control
    response-content-disposition response-content-encoding udf udfName udfImage udfId udfImageDesc
    udfApplication udfApplicationLog restore callback callback-var qosInfo policy stat encryption versions
    versioning versionId requestPayment x-oss-request-payer sequential inventory inventoryId continuation-token
    asyncFetch worm wormId wormExtend withHashContext x-oss-enable-md5 x-oss-enable-sha1 x-oss-enable-sha256
    x-oss-hash-ctx x-oss-md5-ctx transferAcceleration regionList cloudboxes x-oss-ac-source-ip
    x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow metaQuery resourceGroup rtc objectInfo link
    group""".split()
)

_SIG_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str
    security_token: str | None = None


def _hdr(req: Request, name: str) -> str:
    value = req.headers.get(name)
    return "" if value is None else value.strip()


def _oss_headers(req: Request) -> list[tuple[str, str]]:
    return sorted((k.lower(), v.strip()) for k, v in req.headers.items() if k.lower().startswith("x-oss-"))


def _check_access_key(ak: str, creds: Credentials) -> None:
    if ak != creds.access_key:
        raise EmulatorError(
            403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
        )


def _check_token(req: Request, creds: Credentials) -> None:
    token = req.headers.get("x-oss-security-token")
    if creds.security_token is not None and token != creds.security_token:
        raise EmulatorError(403, "InvalidSecurityToken", "The security token you provided is invalid.")
    if creds.security_token is None and token is not None:
        raise EmulatorError(403, "InvalidSecurityToken", "The security token you provided is invalid.")


def _check_skew(ts: float | None) -> None:
    if ts is None:
        raise EmulatorError(403, "AccessDenied", "OSS authentication requires a valid Date.")
    if abs(time.time() - ts) > MAX_SKEW:
        raise EmulatorError(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )


def verify(req: Request, bucket: str | None, key: str, creds: Credentials) -> None:
    """Raise EmulatorError unless ``req`` carries a valid V1 or V4 signature for ``bucket``/``key``."""
    auth = req.headers.get("Authorization")
    if not auth:
        if req.has("OSSAccessKeyId") or req.has("x-oss-signature"):
            raise EmulatorError(403, "AccessDenied", "Presigned URLs are not supported by this emulator.")
        raise EmulatorError(
            403, "AccessDenied", "You have no right to access this object because of bucket acl."
        )
    if auth.startswith("OSS4-HMAC-SHA256 "):
        _verify_v4(req, bucket, key, creds, auth[len("OSS4-HMAC-SHA256 ") :])
    elif auth.startswith("OSS "):
        _verify_v1(req, bucket, key, creds, auth[4:])
    else:
        raise EmulatorError(400, "InvalidArgument", "Authorization header is invalid.")


# -- V1 ------------------------------------------------------------------------------------------------
def v1_string_to_sign(req: Request, bucket: str | None, key: str) -> str:
    headers = "".join(f"{k}:{v}\n" for k, v in _oss_headers(req))
    subs = sorted((k, v) for k, v in req.query if k in SUBRESOURCES)
    sub = "&".join(f"{k}={v}" if v else k for k, v in subs)
    resource = f"/{bucket}/{key}" if bucket else "/"
    if sub:
        resource += "?" + sub
    date = _hdr(req, "x-oss-date") or _hdr(req, "Date")
    return "\n".join(
        [req.method, _hdr(req, "Content-MD5"), _hdr(req, "Content-Type"), date, headers + resource]
    )


def _verify_v1(req: Request, bucket: str | None, key: str, creds: Credentials, value: str) -> None:
    ak, sep, signature = value.strip().rpartition(":")
    if not sep:
        raise EmulatorError(400, "InvalidArgument", "Authorization header is invalid.")
    _check_access_key(ak, creds)
    _check_skew(parse_http_date(_hdr(req, "x-oss-date") or _hdr(req, "Date")))
    string_to_sign = v1_string_to_sign(req, bucket, key)
    mac = hmac.new(creds.secret_key.encode(), string_to_sign.encode("utf-8", "surrogateescape"), hashlib.sha1)
    expected = base64.b64encode(mac.digest()).decode()
    if not hmac.compare_digest(expected, signature):
        raise EmulatorError(
            403, "SignatureDoesNotMatch", _SIG_MESSAGE, OSSAccessKeyId=ak, StringToSign=string_to_sign
        )
    _check_token(req, creds)


# -- V4 ------------------------------------------------------------------------------------------------
def _enc(text: str, keep_slash: bool = False) -> str:
    return quote(text, safe="/~" if keep_slash else "~")


def v4_canonical_request(req: Request, bucket: str | None, key: str, additional: list[str]) -> str:
    uri = _enc(f"/{bucket}/{key}" if bucket else "/", keep_slash=True)
    params = sorted((_enc(k), _enc(v)) for k, v in req.query)
    query = "&".join(f"{k}={v}" if v else k for k, v in params)
    signed = []
    for name, value in req.headers.items():
        low = name.lower()
        if low.startswith("x-oss-") or low in ("content-type", "content-md5") or low in additional:
            signed.append((low, value.strip()))
    headers = "".join(f"{k}:{v}\n" for k, v in sorted(signed))
    payload = _hdr(req, "x-oss-content-sha256")
    return "\n".join([req.method, uri, query, headers, ";".join(additional), payload])


def _signing_key(secret: str, date: str, region: str) -> bytes:
    k = hmac.new(("aliyun_v4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "oss", "aliyun_v4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _verify_v4(req: Request, bucket: str | None, key: str, creds: Credentials, value: str) -> None:
    fields: dict[str, str] = {}
    for item in value.split(","):
        name, sep, val = item.strip().partition("=")
        if not sep:
            raise EmulatorError(400, "InvalidArgument", "Authorization header is invalid.")
        fields[name] = val
    try:
        credential, signature = fields["Credential"], fields["Signature"]
        ak, date, region, product, terminator = credential.split("/")
    except (KeyError, ValueError) as exc:
        raise EmulatorError(400, "InvalidArgument", "Authorization header is invalid.") from exc
    _check_access_key(ak, creds)
    stamp = _hdr(req, "x-oss-date")
    try:
        ts: float | None = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        ts = None
    _check_skew(ts)
    if stamp[:8] != date or product != "oss" or terminator != "aliyun_v4_request":
        raise EmulatorError(400, "InvalidArgument", "Invalid credential scope in Authorization header.")
    if region != creds.region:
        raise EmulatorError(
            400, "InvalidArgument", f"Invalid signing region in Authorization header: {region}."
        )
    if _hdr(req, "x-oss-content-sha256") != "UNSIGNED-PAYLOAD":
        raise EmulatorError(400, "InvalidArgument", "x-oss-content-sha256 must be UNSIGNED-PAYLOAD.")
    additional = sorted(
        h.strip().lower() for h in fields.get("AdditionalHeaders", "").split(";") if h.strip()
    )
    for name in additional:
        if req.headers.get(name) is None:
            raise EmulatorError(400, "InvalidArgument", f"Additional header {name} is not in the request.")
    canonical = v4_canonical_request(req, bucket, key, additional)
    scope = f"{date}/{region}/oss/aliyun_v4_request"
    string_to_sign = "\n".join(
        [
            "OSS4-HMAC-SHA256",
            stamp,
            scope,
            hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest(),
        ]
    )
    expected = hmac.new(_signing_key(creds.secret_key, date, region), string_to_sign.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), signature):
        raise EmulatorError(
            403,
            "SignatureDoesNotMatch",
            _SIG_MESSAGE,
            OSSAccessKeyId=ak,
            CanonicalRequest=canonical,
            StringToSign=string_to_sign,
        )
    _check_token(req, creds)
