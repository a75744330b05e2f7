"""The encrypt composite's body streams: an upload sealed as it flows, a download opened as it flows.

``SealedBody`` hands the store sealed bytes as the client's bytes arrive; ``opened`` turns a stored
stream back into plaintext, checking every package, and maps any tampering to IntegrityError (an error
before the first byte, or a cut connection after it).

Sealing (AES-GCM and the plaintext's MD5, about 2 ms of CPU per MiB, most of it MD5) runs off the event
loop: bytes are gathered into batches of ``BATCH`` and each batch is sealed in a worker thread (both
release the GIL) while the loop hands the previous batch on and gathers the next. At most two batches
are in flight, so memory stays flat; a body smaller than a batch is sealed inline, sparing a small
request the thread hop. Opening (AES-GCM alone, a fifth of that) stays inline: handed to a thread it
cost a third more CPU in the measurements (bench/README.md), three threads contending for the GIL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

from backends import errors as be
from backends.base import ByteStream, PutBody, body_md5
from backends.composite import sealed

#: Bytes sealed or opened per worker-thread call.
BATCH = 4 * 1024 * 1024

Work = Callable[[list[bytes]], bytes]


async def pipelined(source: AsyncIterator[bytes], work: Work) -> AsyncIterator[bytes]:
    """``work`` over ``source`` in batches, in order: batch k+1 runs in a thread while batch k is handed
    on. The last, partial batch runs inline (for a small body, the only one)."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[bytes] | None = None
    batch: list[bytes] = []
    size = 0
    try:
        async for chunk in source:
            batch.append(chunk)
            size += len(chunk)
            if size < BATCH:
                continue
            ready = await pending if pending is not None else b""
            pending = loop.run_in_executor(None, work, batch)
            batch, size = [], 0
            if ready:
                yield ready
        ready = await pending if pending is not None else b""
        pending = None
        if ready:
            yield ready
        last = work(batch)
        if last:
            yield last
    finally:
        if pending is not None and not pending.done():  # abandoned mid-stream: let it end unobserved
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())


def _digest_of(md5_hex: Callable[[], str | None]) -> Callable[[], bytes]:
    def digest() -> bytes:
        value = md5_hex()
        if value is None:  # the body ended without its digest: never seal a made-up ETag
            raise sealed.SealError("the body's MD5 is missing")
        return bytes.fromhex(value)

    return digest


class SealedBody:
    """A PutBody whose bytes are ``body`` sealed as one segment; checksums stay the plaintext's.

    A body of unknown length (a browser form's file) is sealed all the same, as a segment whose length
    only its trailer says (``sealed.Header.sized``); the store then gets a body of unknown length too."""

    def __init__(self, body: PutBody, data_key: bytes, part: int):
        self._body = body
        sized = body.size is not None
        header = sealed.Header(part, body.size or 0, os.urandom(12), sized)
        md5_hex = body_md5(body)  # the gateway's body hashes MD5 anyway (Content-MD5): not twice
        self._sealer = sealed.Sealer(data_key, header, _digest_of(md5_hex) if md5_hex is not None else None)
        self.size: int | None = sealed.stored_size(body.size) if body.size is not None else None

    @property
    def header(self) -> sealed.Header:
        """The segment's header; of a body of unknown length, complete (its length) once iteration ended."""
        return self._sealer.header

    @property
    def md5(self) -> bytes:
        """The plaintext's MD5, complete once iteration ended (S3's ETag of an SSE-S3 object)."""
        return self._sealer.md5

    @property
    def checksums(self) -> dict[str, str]:
        return self._body.checksums

    @property
    def any_unique_etag(self) -> bool:
        """Always (``backends.base.AnyUniqueEtag``): the store's ETag of sealed bytes is only their
        identity to this layer (manifest cache key, If-Match token, same-version check); clients see
        the plaintext's MD5 from the trailers. So a store that would hash them (fs) need not."""
        return True

    def _seal(self, chunks: list[bytes]) -> bytes:
        return bytes(self._sealer.feed(*chunks))  # sealed into the sealer's buffer, copied out once

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for out in pipelined(self._body.__aiter__(), self._seal):
                yield out
            yield bytes(self._sealer.finish())
        except sealed.SealError as exc:
            raise be.InvalidRequest("The body's length differs from the declared length.") from exc


async def opened(
    stored: ByteStream,
    opener: sealed.Opener,
    *,
    skip: int = 0,
    length: int | None = None,
    segments: int = 0,
    md5s: tuple[bytes, ...] | None = None,
) -> AsyncIterator[bytes]:
    """Plaintext of ``stored``: ``skip`` bytes dropped, at most ``length`` served (None: all, checking the
    stream ended on the last of ``segments`` segments, whose trailers hold ``md5s`` when given: the
    ETag already sent was read from them)."""

    left = length
    try:
        async for chunk in stored:
            plain = opener.feed(chunk)  # a view of the opener's buffer: trimmed, then copied out once
            if skip:
                cut = min(skip, len(plain))
                plain, skip = plain[cut:], skip - cut
            if left is not None:
                plain = plain[:left]
                left -= len(plain)
            if plain:
                yield bytes(plain)
            if left == 0:
                break
        opener.finish(partial=length is not None)
        if length is None and opener.segments != segments:
            raise sealed.SealError(f"{opener.segments} segments where {segments} were stored")
        if length is None and md5s is not None and tuple(opener.md5s) != md5s:
            raise sealed.SealError("the trailers disagree with the ones read before")
        if left:
            raise sealed.SealError("the stored bytes end before the range")
    except sealed.SealError as exc:
        raise be.IntegrityError(detail=str(exc)) from exc
    finally:
        aclose = getattr(stored, "aclose", None)
        if aclose is not None:
            await aclose()


async def chain(first: bytes, second: bytes, rest: ByteStream) -> AsyncIterator[bytes]:
    try:
        yield first
        if second:
            yield second
        async for chunk in rest:
            yield chunk
    finally:
        await close(rest)


async def close(body: ByteStream) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
