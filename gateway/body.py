"""The request body as the backends see it: decoded, verified, streamed (implements ``PutBody``).

The wire bytes come from the ASGI receive channel and go through the request's ``PayloadDecoder``
(aws-chunked framing, chunk signatures, SHA-256, Content-MD5, x-amz-checksum-*). Verification that can
only happen at the end (digests, trailers, length) runs before the iterator reports its end, so a bad
body surfaces as an exception where a backend would otherwise commit: nothing corrupt is ever stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from gateway.errors import S3Error
from gateway.hashlanes import HashLanes
from gateway.payload import PayloadDecoder
from gateway.readahead import ReadAhead

#: Pass decoded bytes on in pieces of at least this size, so backends write in useful units.
COALESCE = 256 * 1024
#: Bodies declared larger than this (or of unknown length) are read ahead of the backend's writes and
#: hashed off the event loop, in pieces of ``BATCH`` bytes.
READ_AHEAD_OVER = 1024 * 1024
BATCH = 1024 * 1024


class RequestBody:
    """One request's body; iterate it once."""

    def __init__(self, request: Request, decoder: PayloadDecoder):
        self._request = request
        self._decoder = decoder
        self.size: int | None = decoder.declared_size
        self.consumed = False
        #: True once the whole wire body was read (the connection can then carry another request).
        self.finished = False
        self._ahead: ReadAhead | None = None

    @property
    def checksums(self) -> dict[str, str]:
        return self._decoder.checksums

    @property
    def declared(self) -> dict[str, str]:
        """The client's up-front Content-MD5 and x-amz-checksum-* values (see ``DeclaredIntegrity``)."""
        return self._decoder.declared

    @property
    def md5_hex(self) -> str | None:
        return self._decoder.md5_hex

    def compute_md5(self) -> bool:
        """Have the body's MD5 computed with its verification (``md5_hex`` once iteration ended), for a
        store whose ETag is that MD5; call before iterating. True when it will be."""
        if self.consumed:
            return False
        self._decoder.want_md5()
        return True

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self.size is not None and self.size <= READ_AHEAD_OVER:
            return self._iterate()
        self._ahead = ReadAhead(self._batched(), depth=1)
        return self._ahead

    async def aclose(self) -> None:
        """Stop a read-ahead still running (the app calls this once the handler returned)."""
        if self._ahead is not None:
            await self._ahead.aclose()

    async def _iterate(self) -> AsyncIterator[bytes]:
        if self.consumed:
            raise RuntimeError("a request body can be read only once")
        self.consumed = True
        pending: list[bytes] = []
        pending_size = 0
        try:
            async for raw in self._request.stream():
                out = self._decoder.feed(raw)
                if out:
                    pending.append(out)
                    pending_size += len(out)
                    if pending_size >= COALESCE:
                        yield b"".join(pending)
                        pending, pending_size = [], 0
        except ClientDisconnect:
            raise S3Error("IncompleteBody") from None
        self.finished = True
        self._decoder.finish()
        if pending:
            yield b"".join(pending)

    async def _batched(self) -> AsyncIterator[bytes]:
        """``_iterate`` for large bodies: decoded bytes in ``BATCH`` pieces, each hashed in the hash
        lanes' threads while the next is received; the last piece is released only once the whole body
        is verified, so a store that stops reading at the declared length still never commits a bad body."""
        if self.consumed:
            raise RuntimeError("a request body can be read only once")
        self.consumed = True
        lanes = HashLanes(self._decoder.defer_hashing())
        pending: list[bytes | memoryview] = []
        pending_size = 0
        try:
            async for raw in self._request.stream():
                for piece in self._decoder.feed_pieces(raw):
                    pending.append(piece)
                    pending_size += len(piece)
                if pending_size >= BATCH:
                    batch = b"".join(pending)
                    pending, pending_size = [], 0
                    await lanes.submit(batch)
                    yield batch
        except ClientDisconnect:
            raise S3Error("IncompleteBody") from None
        self.finished = True
        batch = b"".join(pending)
        if batch:
            await lanes.submit(batch)
        await lanes.drain()
        self._decoder.finish()
        if batch:
            yield batch

    async def read_small(self, limit: int) -> bytes:
        """The whole body of a small request document (XML); over ``limit`` is refused."""
        parts: list[bytes] = []
        total = 0
        async for chunk in self:
            total += len(chunk)
            if total > limit:
                raise S3Error("MalformedXML", "The XML document is too large.")
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        """Read and verify a body nobody wants (requests that carry one they should not)."""
        async for _ in self:
            pass
