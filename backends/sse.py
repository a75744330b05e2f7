"""Server-side encryption in the contract: what a request asks for, and how an object is encrypted.

The gateway parses S3's SSE headers; the ``encrypt`` composite does the work. Between them the request
travels in a context variable (``requested``) set by the handler for the duration of one backend call,
so no provider's method signature changes and the composites between the handler and the encrypt layer
(router, retry, fallback, mirror) carry it without knowing. The gateway only sets it for a bucket whose
backend says ``Capabilities.encryption``; every other backend still refuses SSE headers (see
``gateway.unsupported``), so nothing accepts an encryption request and ignores it.

The answer side is explicit: an encrypted object's ``ObjectMeta.encryption`` says how it is encrypted,
and the gateway turns that into the response headers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

#: The only algorithm SSE-S3 and SSE-C name in S3's headers.
AES256 = "AES256"


@dataclass(frozen=True)
class CustomerKey:
    """An SSE-C key the client sent, already checked against its MD5: the key and that MD5 (base64)."""

    key: bytes = field(repr=False)
    md5: str

    @classmethod
    def of(cls, key: bytes) -> CustomerKey:
        return cls(key, base64.b64encode(hashlib.md5(key).digest()).decode("ascii"))


@dataclass(frozen=True)
class SseRequest:
    """The SSE parameters of one request.

    ``write_key``: the SSE-C key for the object (or part) being written; None means SSE-S3.
    ``read_key``: the SSE-C key of the object being read (GetObject, HeadObject, a copy's source).
    ``secure``: the request came over TLS (SSE-C over plain http is refused unless configured).
    """

    write_key: CustomerKey | None = None
    read_key: CustomerKey | None = None
    secure: bool = True


@dataclass(frozen=True)
class Encryption:
    """How a stored object is encrypted, as S3 reports it: SSE-S3, or SSE-C with the key's MD5."""

    customer_key_md5: str | None = None
    algorithm: str = AES256


#: A frozen dataclass, so the shared default cannot be changed.
requested: ContextVar[SseRequest] = ContextVar("s3bridge_sse_request", default=SseRequest())  # noqa: B039


@contextlib.contextmanager
def using(request: SseRequest) -> Iterator[None]:
    """Make ``request`` the SSE request of the backend calls made inside the block."""
    token = requested.set(request)
    try:
        yield
    finally:
        requested.reset(token)
