"""Requests signed by botocore's own signers, and the pieces of the auth unit tests: AWS's example
credentials, signed requests as the views the gateway's authentication reads."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

from gateway.auth import AuthResult, RequestView, authenticate

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_TIME = datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HOST = "127.0.0.1:9000"


def secrets(key: str) -> str | None:
    return {AWS_KEY: AWS_SECRET, "other": "other-secret"}.get(key)


def aws_auth(signed_headers: str, signature: str, scope_date: str = "20130524") -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/{scope_date}/us-east-1/s3/aws4_request,"
        f"SignedHeaders={signed_headers},Signature={signature}"
    )


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def view_of(prepared: AWSPreparedRequest, *, host: str = HOST, bucket: str | None = None) -> RequestView:
    """The request as the gateway's app would hand it over: raw path, raw query, lowercase headers."""
    parts = urlsplit(prepared.url)
    headers: dict[str, str] = {}
    for name, value in prepared.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        headers[name.lower()] = value
    if prepared.body is not None and "content-length" not in headers:
        body = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body).encode()
        headers["content-length"] = str(len(body))
    return RequestView(prepared.method, parts.path, parts.query, headers, host, bucket)


def botocore_request(
    method: str,
    path: str,
    *,
    params: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    signer: str = "v4",
    key: str = AWS_KEY,
    secret: str = AWS_SECRET,
    region: str = "us-east-1",
    expires: int = 3600,
    auth_path: str | None = None,
) -> AWSPreparedRequest:
    """A request signed by botocore itself (``path`` already percent-encoded, as botocore sends it)."""
    # botocore's serializer puts the query into the URL (percent_encode_sequence) before signing.
    query = f"?{percent_encode_sequence(params)}" if params else ""
    request = AWSRequest(method=method, url=f"http://{HOST}{path}{query}", headers=headers or {}, data=body)
    if auth_path is not None:
        request.auth_path = auth_path
    add_auth(request, signer, (key, secret), region=region, expires=expires)
    return request.prepare()


def add_auth(
    request: AWSRequest,
    signer: str | None,
    pair: tuple[str, str],
    *,
    region: str = "us-east-1",
    expires: int = 3600,
) -> AWSRequest:
    """Sign ``request`` with botocore's own signer: ``v4``, ``v4-query``, ``v2``, ``v2-query``, or None
    to leave it anonymous."""
    creds = Credentials(*pair)
    if signer == "v4":
        S3SigV4Auth(creds, "s3", region).add_auth(request)
    elif signer == "v4-query":
        S3SigV4QueryAuth(creds, "s3", region, expires=expires).add_auth(request)
    elif signer == "v2":
        HmacV1Auth(creds).add_auth(request)
    elif signer == "v2-query":
        HmacV1QueryAuth(creds, expires=expires).add_auth(request)
    elif signer is not None:
        raise ValueError(f"unknown signer {signer!r}")
    return request


def accept(view: RequestView, when: datetime.datetime | None = None) -> AuthResult:
    return authenticate(view, secrets, when or now())
