"""Upload bodies and read helpers for the contract suite.

The bodies behave like the gateway's verifying request stream: chunks arrive in odd sizes, checksums are
only known once the stream ended normally, and a broken upload raises from inside the iteration.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from backends.base import Backend, ByteRange, GetResult, ObjectInfo, ObjectMeta

MiB = 1024 * 1024


class BodyFailed(Exception):
    """What a FailingBody raises mid-stream; a backend must let exactly this propagate."""


class ChunkedBody:
    """A PutBody over in-memory test data, yielded in ``chunk``-sized pieces.

    ``checksums`` reads as empty until iteration ended normally, as the gateway's verifying stream does,
    so a backend that reads them too early stores nothing and the suite notices.
    """

    def __init__(self, data: bytes, chunk: int = 65_537, checksums: dict[str, str] | None = None):
        self.data = data
        self.chunk = chunk
        self.size: int | None = len(data)
        self._checksums = dict(checksums or {})
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            yield self.data[start : start + self.chunk]
        self._done = True

    @property
    def checksums(self) -> dict[str, str]:
        return dict(self._checksums) if self._done else {}


class DeclaredBody(ChunkedBody):
    """A ChunkedBody whose client sent Content-MD5 up front (``declared``, as the gateway's request body
    offers it: the value a backend may forward to a store that wants it before the bytes)."""

    @property
    def declared(self) -> dict[str, str]:
        return {"md5": base64.b64encode(hashlib.md5(self.data).digest()).decode("ascii")}  # noqa: S324


class FailingBody(ChunkedBody):
    """Declares the full length, yields ``fail_after`` bytes of it, then raises ``BodyFailed``."""

    def __init__(self, data: bytes, fail_after: int, chunk: int = 65_537):
        super().__init__(data, chunk, checksums={"crc32": "AAAAAA=="})
        self.fail_after = fail_after

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.fail_after:
            piece = self.data[sent : min(sent + self.chunk, self.fail_after)]
            sent += len(piece)
            yield piece
        raise BodyFailed(f"client body failed after {sent} bytes")


class OpaqueEtag(str):
    """What an expected part ETag means through the encrypt composite: UploadPart answers the store's
    ETag of the sealed part (CompleteMultipartUpload hands it back to the store, which checks it), not
    the MD5 of the plaintext. It equals any ETag of the same form (32 hex digits) other than that MD5."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return len(other) == 32 and all(c in "0123456789abcdef" for c in other) and other != str(self)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__


#: Set by ``opaque_part_etags()``: expected part ETags are OpaqueEtag instead of the part's MD5.
_opaque_parts = False


@contextlib.contextmanager
def opaque_part_etags() -> Iterator[None]:
    """For contract runs over the encrypt composite (see OpaqueEtag); every other run is unaffected."""
    global _opaque_parts
    _opaque_parts = True
    try:
        yield
    finally:
        _opaque_parts = False


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def part_md5_hex(data: bytes) -> str:
    """The ETag UploadPart answers for ``data``: its MD5 (OpaqueEtag under ``opaque_part_etags()``)."""
    etag = md5_hex(data)
    return OpaqueEtag(etag) if _opaque_parts else etag


def multipart_etag(parts: list[bytes]) -> str:
    """S3's multipart ETag: md5 of the concatenated binary part md5s, then ``-N``."""
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic data in which every 16-byte block differs, so misplaced bytes are detected."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest()[:8]
    out = bytearray()
    i = 0
    while len(out) < size:
        out += block + i.to_bytes(8, "big")
        i += 1
    return bytes(out[:size])


async def read_all(result: GetResult) -> bytes:
    parts = [chunk async for chunk in result.body]
    return b"".join(parts)


async def get_bytes(backend: Backend, bucket: str, key: str, rng: ByteRange | None = None) -> bytes:
    return await read_all(await backend.get_object(bucket, key, rng))


async def put_bytes(
    backend: Backend, bucket: str, key: str, data: bytes, meta: ObjectMeta | None = None
) -> ObjectInfo:
    return await backend.put_object(bucket, key, ChunkedBody(data), meta or ObjectMeta())


async def put_many(backend: Backend, bucket: str, keys: list[str], *, concurrency: int = 8) -> None:
    """Create many small objects (empty bodies), a few at a time: listing tests need the keys, not the order."""
    limit = anyio.Semaphore(concurrency)

    async def one(key: str) -> None:
        async with limit:
            await put_bytes(backend, bucket, key, b"")

    async with anyio.create_task_group() as tg:
        for key in keys:
            tg.start_soon(one, key)


async def started(backend: Backend) -> AsyncIterator[Backend]:
    """``backend`` started, for a fixture to yield from; closed however the test ended."""
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


def need(backend: Backend, capability: str) -> None:
    """Skip, saying why, when the backend declares a capability unsupported."""
    if not getattr(backend.capabilities, capability):
        pytest.skip(f"{backend.name} declares {capability}=False")


class GeneratedBody:
    """A large body made on the fly, so the test itself holds no whole object either; ``digest`` (of
    ``algorithm``) is computed over what was sent."""

    def __init__(self, size: int, chunk: int = 64 * 1024, algorithm: str = "md5"):
        self.size: int | None = size
        self.chunk = chunk
        self.digest = hashlib.new(algorithm)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        block = pattern(self.chunk, seed=11)
        while sent < (self.size or 0):
            piece = block[: min(self.chunk, (self.size or 0) - sent)]
            self.digest.update(piece)
            sent += len(piece)
            yield piece

    @property
    def checksums(self) -> dict[str, str]:
        return {}
