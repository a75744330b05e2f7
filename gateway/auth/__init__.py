"""Request authentication: which of SigV4, SigV2 (header or presigned query) or none a request uses,
whether its signature holds, and the verifying decoder for its body. Pure code: no I/O.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from gateway.auth import sigv2, sigv4
from gateway.auth.request import RequestView, query_facts
from gateway.errors import S3Error
from gateway.payload import PayloadDecoder, new_payload_decoder

__all__ = ["AuthResult", "PayloadDecoder", "RequestView", "authenticate", "new_payload_decoder"]


@dataclass
class AuthResult:
    access_key: str | None  # None = anonymous (no Authorization header and no presign query)
    payload: PayloadDecoder  # the body decoder/verifier for this request
    method: str  # "sigv4", "sigv4-presigned", "sigv2", "sigv2-presigned", "anonymous"


def _unsupported() -> S3Error:
    return S3Error("InvalidArgument", "Unsupported Authorization Type", ArgumentName="Authorization")


def authenticate(
    view: RequestView,
    secret_for: Callable[[str], str | None],
    now: datetime.datetime,
    *,
    max_skew: datetime.timedelta = datetime.timedelta(minutes=15),
) -> AuthResult:
    """Verify the request's signature; raise the S3Error AWS would answer when it does not hold."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.timezone.utc)
    pairs, first = query_facts(view.query_string)
    authorization = view.headers.get("authorization")
    v4_query = b"X-Amz-Algorithm" in first or bool(first.get(b"X-Amz-Signature"))
    v2_query = b"AWSAccessKeyId" in first and b"Signature" in first
    if authorization is not None and (v4_query or v2_query):
        raise S3Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
            "string parameter or the Authorization header should be specified",
            ArgumentName="Authorization",
        )
    content_sha256 = view.headers.get("x-amz-content-sha256")
    if authorization is not None:
        scheme = authorization.strip().split(" ", 1)[0]
        if scheme == sigv4.ALGORITHM:
            v4 = sigv4.verify_header(view, secret_for, now, max_skew)
            payload = new_payload_decoder(
                view.headers, content_sha256=v4.content_sha256, signer=v4.chunk_signer
            )
            return AuthResult(v4.access_key, payload, "sigv4")
        if scheme == "AWS":
            key = sigv2.verify_header(view, pairs, secret_for, now, max_skew)
            return AuthResult(key, new_payload_decoder(view.headers, content_sha256=content_sha256), "sigv2")
        raise _unsupported()
    if v4_query:
        v4 = sigv4.verify_presigned(view, first, secret_for, now, max_skew)
        payload = new_payload_decoder(view.headers, content_sha256=v4.content_sha256)
        return AuthResult(v4.access_key, payload, "sigv4-presigned")
    if v2_query:
        key = sigv2.verify_presigned(view, pairs, secret_for, now)
        payload = new_payload_decoder(view.headers, content_sha256=content_sha256)
        return AuthResult(key, payload, "sigv2-presigned")
    return AuthResult(None, new_payload_decoder(view.headers, content_sha256=content_sha256), "anonymous")
