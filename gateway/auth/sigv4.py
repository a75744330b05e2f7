"""AWS Signature Version 4 for S3: the Authorization header and presigned query forms.

The canonical request is rebuilt from the request as received, the way botocore and the other SDKs
build it for S3: the path exactly as sent (S3 neither normalises nor double-encodes it), the query
decoded and re-encoded with AWS's UriEncode and sorted, the signed headers trimmed and folded.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from gateway.auth.request import (
    AMZ_DATE_FORMAT,
    QUERY_CACHE_ENTRIES,
    QueryPair,
    RequestView,
    check_skew,
    encode_unreserved,
    has_lowercase_escape,
    missing_date,
    parse_amz_date,
    parse_http_date,
    parse_query,
    query_facts,
    signed_bytes,
    uri_encode,
)
from gateway.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_PRESIGN_EXPIRES = 604800  # seven days, AWS's limit for SigV4 presigned URLs

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)

#: x-amz-* headers a presigned request may carry unsigned: they only describe the body, which is
#: verified against them anyway.
_PRESIGN_UNSIGNED_OK = (
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-date",
)

SecretLookup = Callable[[str], "str | None"]


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Four chained HMACs, the same for every request of a key on one day: derived once, then cached."""
    k_date = _hmac(f"AWS4{secret}".encode(), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def signatures_equal(expected: str, provided: str) -> bool:
    """Exact and constant-time, over bytes: a provided signature holding non-ASCII text is simply wrong
    (``hmac.compare_digest`` raises TypeError on non-ASCII str, which answered 500), and hex differing
    only in letter case is wrong too, as AWS holds (issue 16, fault 5)."""
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))


def sign(key: bytes, string_to_sign: str) -> str:
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class ChunkSigner:
    """The signature chain of an aws-chunked body, seeded with the request's own signature."""

    def __init__(self, key: bytes, timestamp: str, scope: str, seed: str):
        self._key = key
        self._prefix = f"{timestamp}\n{scope}\n"
        self.seed = seed

    def chunk_signature(self, previous: str, chunk_sha256_hex: str) -> str:
        sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{self._prefix}{previous}\n{EMPTY_SHA256}\n{chunk_sha256_hex}"
        return sign(self._key, sts)

    def trailer_signature(self, previous: str, trailer_sha256_hex: str) -> str:
        sts = f"AWS4-HMAC-SHA256-TRAILER\n{self._prefix}{previous}\n{trailer_sha256_hex}"
        return sign(self._key, sts)


@dataclass(frozen=True)
class V4Verified:
    """A verified SigV4 request: who signed, the payload hash it signed, and the chunk chain's start."""

    access_key: str
    content_sha256: str
    chunk_signer: ChunkSigner


@dataclass(frozen=True)
class _Credential:
    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _parse_credential(value: str, error: Callable[[str], S3Error]) -> _Credential:
    parsed = _credential(value)
    if isinstance(parsed, str):
        raise error(parsed)
    return parsed


@functools.lru_cache(maxsize=256)
def _credential(value: str) -> _Credential | str:
    """The credential's parts, or what is wrong with it (cached: the same few credentials all day)."""
    parts = value.strip().rsplit("/", 4)
    if len(parts) != 5 or not all(parts) or len(parts[1]) != 8 or not parts[1].isdigit():
        return 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
    access_key, date, region, service, terminal = parts
    if service != "s3":
        return f'incorrect service "{service}". This endpoint belongs to "s3".'
    if terminal != "aws4_request":
        return f'incorrect terminal "{terminal}". This endpoint uses "aws4_request".'
    return _Credential(access_key, date, region, service)


def _header_error(detail: str) -> S3Error:
    return S3Error("AuthorizationHeaderMalformed", f"The authorization header is malformed; {detail}")


def _query_error(detail: str) -> S3Error:
    return S3Error("AuthorizationQueryParametersError", detail)


def canonical_query(pairs: Sequence[QueryPair]) -> str:
    encoded = sorted((encode_unreserved(pair.name), encode_unreserved(pair.value)) for pair in pairs)
    return "&".join([f"{name}={value}" for name, value in encoded])


@functools.lru_cache(maxsize=QUERY_CACHE_ENTRIES)
def _query_spellings(query_string: str, exclude: bytes | None) -> tuple[str, ...]:
    """Canonical queries to try: ``+`` as a space (form encoding, what botocore sends), then literal.
    Cached per query string (a pure function of it: a presigned URL fetched again skips the decoding,
    re-encoding and sorting; the signature is still computed and compared on every request)."""
    spellings = []
    for raw in dict.fromkeys([query_string.replace("+", "%20"), query_string]):
        parsed = query_facts(raw).pairs if raw == query_string else parse_query(raw)
        spellings.append(canonical_query([p for p in parsed if p.name != exclude]))
    return tuple(spellings)


def _reencoded_path(raw_path: str) -> str:
    """The path as AWS's UriEncode would have written it, segment by segment (``%2F`` stays encoded)."""
    return "/".join(uri_encode(unquote_to_bytes(segment)) for segment in raw_path.split("/"))


@functools.lru_cache(maxsize=QUERY_CACHE_ENTRIES)
def _path_spellings(raw_path: str) -> tuple[str, ...]:
    """The paths a signer may have signed: as sent, then as UriEncode writes it when that differs and
    the path holds no lower-case escape (see ``has_lowercase_escape``). Cached per path, a pure function
    of it."""
    alt = _reencoded_path(raw_path)
    return (raw_path, alt) if alt != raw_path and not has_lowercase_escape(raw_path) else (raw_path,)


@functools.lru_cache(maxsize=QUERY_CACHE_ENTRIES)
def _query_acceptable(query_string: str) -> bool:
    """The canonical query re-encodes every value, so a re-spelled escape would otherwise still match;
    cached per query string, a pure function of it."""
    return not has_lowercase_escape(query_string)


def canonical_headers(view: RequestView, names: Sequence[str]) -> str:
    lines = []
    for name in names:
        value = view.host if name == "host" else view.headers.get(name, "")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


def _check_signed_amz_headers(view: RequestView, signed: Sequence[str], *, presigned: bool) -> None:
    signed_set = set(signed)
    unsigned = sorted(
        name
        for name in view.headers
        if name.startswith("x-amz-")
        and name not in signed_set
        and not (presigned and (name in _PRESIGN_UNSIGNED_OK or name.startswith("x-amz-checksum-")))
    )
    if unsigned:
        raise S3Error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


def _verify(
    view: RequestView,
    cred: _Credential,
    secret: str,
    timestamp: str,
    signed: Sequence[str],
    payload_hash: str,
    provided: str,
    *,
    exclude: bytes | None = None,
) -> ChunkSigner:
    """Compare the signature over every acceptable spelling of the request; raise when none matches."""
    key = signing_key(secret, cred.date, cred.region, cred.service)
    paths = _path_spellings(view.raw_path or "/")
    acceptable = _query_acceptable(view.query_string)
    queries = _query_spellings(view.query_string, exclude)
    header_block = canonical_headers(view, signed)
    signed_line = ";".join(signed)
    tried: list[tuple[str, str]] = []
    for path in paths:
        for query in queries:
            creq = f"{view.method}\n{path}\n{query}\n{header_block}\n{signed_line}\n{payload_hash}"
            for spelling in signed_bytes(creq):  # non-ASCII header values: see signed_bytes
                sts = f"{ALGORITHM}\n{timestamp}\n{cred.scope}\n{hashlib.sha256(spelling).hexdigest()}"
                # Exactly as AWS: a signature is lower-case hex, and one spelled otherwise does not match.
                if signatures_equal(sign(key, sts), provided) and acceptable:
                    return ChunkSigner(key, timestamp, cred.scope, provided)
                tried.append((creq, sts))
    creq, sts = tried[0]
    raise S3Error(
        "SignatureDoesNotMatch",
        AWSAccessKeyId=cred.access_key,
        StringToSign=sts,
        SignatureProvided=provided,
        CanonicalRequest=creq,
    )


@functools.lru_cache(maxsize=64)
def _day(when: datetime.datetime) -> str:
    """``YYYYMMDD`` of a request's time (cached: ``strftime`` is ~10 µs, the same date all day)."""
    return when.strftime("%Y%m%d")


def _secret(secret_for: SecretLookup, access_key: str) -> str:
    secret = secret_for(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    return secret


def _signed_header_list(value: str) -> list[str]:
    # Names are taken as written: an upper-case name is not the lower-case one the client signed.
    return [name.strip() for name in value.split(";") if name.strip()]


def parse_authorization(value: str) -> tuple[_Credential, list[str], str]:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` → its three parts."""
    _, _, rest = value.strip().partition(" ")
    fields: dict[str, str] = {}
    for component in rest.split(","):
        name, eq, field = component.strip().partition("=")
        if eq:
            fields[name.strip()] = field.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise _header_error(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature."
        )
    cred = _parse_credential(fields["Credential"], _header_error)
    return cred, _signed_header_list(fields["SignedHeaders"]), fields["Signature"]


def verify_header(
    view: RequestView, secret_for: SecretLookup, now: datetime.datetime, max_skew: datetime.timedelta
) -> V4Verified:
    cred, signed, provided = parse_authorization(view.headers["authorization"])
    amz_date = view.headers.get("x-amz-date")
    if amz_date is not None:
        when = parse_amz_date(amz_date)
        timestamp = amz_date.strip()
    else:
        when = parse_http_date(view.headers.get("date", ""))
        timestamp = when.strftime(AMZ_DATE_FORMAT) if when else ""
    if when is None:
        raise missing_date()
    if cred.date != _day(when):
        raise _header_error("Invalid credential date. Date is not the same as X-Amz-Date.")
    if "host" not in signed:
        raise _header_error("the SignedHeaders must include host.")
    secret = _secret(secret_for, cred.access_key)
    check_skew(when, now, max_skew)
    payload_hash = view.headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    _check_signed_amz_headers(view, signed, presigned=False)
    signer = _verify(view, cred, secret, timestamp, signed, payload_hash.strip(), provided)
    return V4Verified(cred.access_key, payload_hash.strip(), signer)


_PRESIGN_PARAMS = (
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_PRESIGN_NAMES = tuple((name, name.encode()) for name in _PRESIGN_PARAMS)


@dataclass(frozen=True)
class _PresignedTerms:
    """What a presigned URL's credential, date, expiry and signed-header list say, checked."""

    cred: _Credential
    timestamp: str
    when: datetime.datetime
    expires: int
    #: ``when`` plus ``expires``: the URL is good until then.
    deadline: datetime.datetime
    signed: tuple[str, ...]


@functools.lru_cache(maxsize=QUERY_CACHE_ENTRIES)
def _presigned_terms(credential: str, date: str, expires_text: str, signed_headers: str) -> _PresignedTerms:
    """The URL's terms, or the S3Error for the first one that is wrong (in AWS's order of checks).
    Cached per spelling (a pure function of these four parameters, immutable: a URL fetched again skips
    the parsing; an error is raised anew each time, never cached)."""
    cred = _parse_credential(
        credential, lambda detail: _query_error(f"Error parsing the X-Amz-Credential parameter; {detail}")
    )
    timestamp = date.strip()
    when = parse_amz_date(timestamp)
    if when is None:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    if cred.date != _day(when):
        raise _query_error("Invalid credential date. Date is not the same as X-Amz-Date.")
    expires_text = expires_text.strip()
    if not expires_text.isdigit():
        raise _query_error("X-Amz-Expires should be a number")
    expires = int(expires_text)
    if expires > MAX_PRESIGN_EXPIRES:
        raise _query_error("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    signed = tuple(_signed_header_list(signed_headers))
    if "host" not in signed:
        raise _query_error("X-Amz-SignedHeaders must include host.")
    return _PresignedTerms(cred, timestamp, when, expires, when + datetime.timedelta(seconds=expires), signed)


def verify_presigned(
    view: RequestView,
    first: Mapping[bytes, str],
    secret_for: SecretLookup,
    now: datetime.datetime,
    max_skew: datetime.timedelta,
) -> V4Verified:
    """A presigned URL's signature; ``first`` holds each query name's first value (``query_facts``)."""
    if first.get(b"X-Amz-Algorithm") != ALGORITHM:
        raise _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    params: dict[str, str] = {}
    for name, key in _PRESIGN_NAMES:
        value = first.get(key)
        if value is None:
            raise _query_error(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            )
        params[name] = value
    terms = _presigned_terms(
        params["X-Amz-Credential"], params["X-Amz-Date"], params["X-Amz-Expires"],
        params["X-Amz-SignedHeaders"],
    )  # fmt: skip
    cred, when = terms.cred, terms.when
    secret = _secret(secret_for, cred.access_key)
    if when - now > max_skew:
        raise S3Error("AccessDenied", "Request is not valid yet")
    if now > terms.deadline:
        expired = S3Error("AccessDenied", "Request has expired")
        expired.extra.update(
            {
                "X-Amz-Expires": str(terms.expires),
                "Expires": terms.deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        raise expired
    signed = terms.signed
    _check_signed_amz_headers(view, signed, presigned=True)
    if "x-amz-content-sha256" in signed:
        payload_hash = view.headers.get("x-amz-content-sha256", "").strip()
    else:
        payload_hash = (first.get(b"X-Amz-Content-Sha256") or UNSIGNED_PAYLOAD).strip()
    signer = _verify(
        view,
        cred,
        secret,
        terms.timestamp,
        signed,
        payload_hash,
        params["X-Amz-Signature"],
        exclude=b"X-Amz-Signature",
    )
    body_hash = view.headers.get("x-amz-content-sha256", payload_hash).strip()
    return V4Verified(cred.access_key, body_hash, signer)
