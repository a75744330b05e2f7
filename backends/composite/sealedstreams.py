"""The encrypt composite's body streams: an upload sealed as it flows, a download opened as it flows.

Neither holds more than a chunk and a package: ``SealedBody`` hands the store sealed bytes as the client's
bytes arrive; ``opened`` turns a stored stream back into plaintext, checking every package, and maps any
tampering to IntegrityError (an error before the first byte, or a cut connection after it).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from backends import errors as be
from backends.base import ByteStream, PutBody
from backends.composite import sealed


class SealedBody:
    """A PutBody whose bytes are ``body`` sealed as one segment; checksums stay the plaintext's."""

    def __init__(self, body: PutBody, data_key: bytes, part: int):
        if body.size is None:
            raise be.InvalidRequest("An encrypted upload needs its length declared (Content-Length).")
        self._body = body
        self._sealer = sealed.Sealer(data_key, sealed.Header(part, body.size, os.urandom(12)))
        self.header = self._sealer.header
        self.size: int | None = sealed.stored_size(body.size)

    @property
    def md5(self) -> bytes:
        """The plaintext's MD5, complete once iteration ended (S3's ETag of an SSE-S3 object)."""
        return self._sealer.md5

    @property
    def checksums(self) -> dict[str, str]:
        return self._body.checksums

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._body:
                sealed_now = self._sealer.feed(chunk)
                if sealed_now:  # one write per client chunk, not one per 64 KiB package
                    yield b"".join(sealed_now)
            yield b"".join(self._sealer.finish())
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
            opened = opener.feed(chunk)
            plain = opened[0] if len(opened) == 1 else b"".join(opened)
            if skip:
                cut = min(skip, len(plain))
                plain, skip = plain[cut:], skip - cut
            if left is not None:
                plain = plain[:left]
                left -= len(plain)
            if plain:
                yield plain
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
