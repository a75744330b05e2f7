"""Body plumbing the composites share: consumption tracking, a bounded tee, cross-backend copies.

Nothing here holds an object whole. ``TrackedBody`` only remembers whether a byte was pulled (so a
retry or a fallback knows whether the client's body can still be sent elsewhere); ``Tee`` keeps at most
``window`` chunks between its fastest and its slowest reader; the copy helpers stream a GET into a PUT
one chunk at a time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from backends.base import (
    ALWAYS,
    Backend,
    ByteRange,
    ByteStream,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PutBody,
    WriteCondition,
    any_unique_etag,
    body_md5,
    declared_integrity,
)


class TrackedBody:
    """A PutBody that records whether anything was pulled from the client's stream.

    ``consumed`` turns true as soon as a read is attempted: even a read that failed may have taken bytes
    off the client's connection, and those can never be sent again.
    """

    def __init__(self, body: PutBody):
        self._body = body
        self._it: AsyncIterator[bytes] | None = None
        self.consumed = False
        self.size = body.size

    @property
    def checksums(self) -> dict[str, str]:
        return self._body.checksums

    @property
    def declared(self) -> dict[str, str]:
        """The client's up-front integrity values pass through: the bytes are the client's own."""
        return declared_integrity(self._body)

    @property
    def any_unique_etag(self) -> bool:
        """Passed through: the bytes and the ETag they get go to the same one writer."""
        return any_unique_etag(self._body)

    def compute_md5(self) -> bool:
        """Passed through (``ComputesMd5``): the bytes are the client's own, so the MD5 their body
        computes while verifying them is theirs, and a store behind a retry or a fallback (fs) does not
        hash every byte a second time."""
        return body_md5(self._body) is not None

    @property
    def md5_hex(self) -> str | None:
        return getattr(self._body, "md5_hex", None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._it is None:
            self._it = aiter(self._body)
        self.consumed = True
        return await self._it.__anext__()


class StreamBody:
    """A PutBody over a stream we read from another backend (cross-backend copies).

    ``checksums``: the source's whole-object checksums, for a copy of the whole source (the same bytes);
    reported only once the stream ended, as a verifying body reports its own.
    """

    def __init__(self, stream: ByteStream, size: int | None, checksums: dict[str, str] | None = None):
        self._stream = stream
        self.size = size
        self._checksums = dict(checksums or {})
        self._ended = False

    @property
    def checksums(self) -> dict[str, str]:
        return dict(self._checksums) if self._ended else {}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk
        self._ended = True


class BodyInterrupted(Exception):
    """The tee's source stopped because the reader pulling from it was cancelled mid-read."""


class Tee:
    """One client body read by several uploads at once, with at most ``window`` chunks buffered.

    The slowest live branch paces the others: a branch more than ``window`` chunks ahead waits. A branch
    whose upload ended (failed or done) is dropped, so a dead member never stalls the rest. When the
    source fails, every branch raises the same exception, so every member aborts its upload.
    """

    def __init__(self, source: PutBody, branches: int, window: int = 4):
        if branches < 1 or window < 1:
            raise ValueError("a tee needs at least one branch and a window of one chunk")
        self._source = source
        self._it: AsyncIterator[bytes] | None = None
        self._buf: deque[bytes] = deque()
        self._base = 0
        self._pos = [0] * branches
        self._live = [True] * branches
        self._window = window
        self._done = False
        self._error: BaseException | None = None
        self._fetching = False
        self._cond = asyncio.Condition()
        self.branches = [TeeBranch(self, i) for i in range(branches)]

    @property
    def error(self) -> BaseException | None:
        """What the source raised, if it failed (the client's body, not a member)."""
        return self._error

    @property
    def buffered(self) -> int:
        """Chunks held right now (for tests and metrics)."""
        return len(self._buf)

    def _trim(self) -> None:
        live = [p for p, alive in zip(self._pos, self._live, strict=True) if alive]
        low = min(live) if live else self._base + len(self._buf)
        while self._base < low and self._buf:
            self._buf.popleft()
            self._base += 1

    async def drop(self, index: int) -> None:
        async with self._cond:
            self._live[index] = False
            self._trim()
            self._cond.notify_all()

    async def next_chunk(self, index: int) -> bytes:
        while True:
            async with self._cond:
                while True:
                    pos = self._pos[index]
                    if pos < self._base + len(self._buf):
                        chunk = self._buf[pos - self._base]
                        self._pos[index] = pos + 1
                        self._trim()
                        self._cond.notify_all()
                        return chunk
                    if self._error is not None:
                        raise self._error
                    if self._done:
                        raise StopAsyncIteration
                    slowest = min(p for p, alive in zip(self._pos, self._live, strict=True) if alive)
                    if not self._fetching and pos - slowest < self._window:
                        self._fetching = True
                        break
                    await self._cond.wait()
            await self._fetch()

    async def _fetch(self) -> None:
        chunk = b""
        try:
            if self._it is None:
                self._it = aiter(self._source)
            while not chunk:
                chunk = await self._it.__anext__()
        except StopAsyncIteration:
            self._done = True
        except asyncio.CancelledError:
            self._error = BodyInterrupted("the request body was interrupted")
            raise
        except BaseException as exc:  # the client's body failed: every branch must fail the same way
            self._error = exc
        finally:
            async with self._cond:
                self._fetching = False
                if chunk:
                    self._buf.append(chunk)
                self._cond.notify_all()


class TeeBranch:
    """One reader's view of a Tee, itself a PutBody."""

    def __init__(self, tee: Tee, index: int):
        self._tee = tee
        self._index = index
        self.size = tee._source.size

    @property
    def checksums(self) -> dict[str, str]:
        return self._tee._source.checksums

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return await self._tee.next_chunk(self._index)


def copy_meta(info: ObjectInfo, meta: ObjectMeta | None) -> ObjectMeta:
    """The metadata a copy writes: the client's (REPLACE) or the source's without its stored checksums."""
    if meta is not None:
        return meta
    return info.meta.copy(checksums={}, checksum_type=None)


async def copy_across(
    src: Backend,
    src_bucket: str,
    src_key: str,
    dst: Backend,
    dst_bucket: str,
    dst_key: str,
    meta: ObjectMeta | None,
    cond: WriteCondition = ALWAYS,
    src_version_id: str | None = None,
) -> ObjectInfo:
    """CopyObject between two stores: the source's GET stream (of ``src_version_id`` when given) feeds
    the destination's PUT (which decides ``cond``)."""
    got = await src.get_object(src_bucket, src_key, None, src_version_id)
    try:
        stored = (await src.stored_checksums(src_bucket, src_key, got.info)).meta.checksums
        # A COMPOSITE value (``-N``) is of the source's parts; the copy is one PUT, so it keeps only
        # whole-object values.
        body = StreamBody(got.body, got.info.size, {a: v for a, v in stored.items() if v and "-" not in v})
        written = copy_meta(got.info, meta)
        if meta is None and written.tagging_count and not written.tags:
            # The source's read reported how many tags, not which: ask, so the copy carries them.
            tags = await src.get_object_tagging(src_bucket, src_key, version_id=src_version_id)
            written = written.copy(tags=tags, tag_count=None)
        return await dst.put_object(dst_bucket, dst_key, body, written, cond)
    finally:
        await _close(got.body)


async def part_copy_across(
    src: Backend,
    src_bucket: str,
    src_key: str,
    src_range: tuple[int, int] | None,
    dst: Backend,
    bucket: str,
    key: str,
    upload_id: str,
    part_number: int,
) -> PartInfo:
    """UploadPartCopy between two stores: a ranged GET of the source feeds UploadPart."""
    rng = None if src_range is None else ByteRange(src_range[0], src_range[1])
    got = await src.get_object(src_bucket, src_key, rng)
    span = got.span or (0, got.info.size - 1)
    body = StreamBody(got.body, span[1] - span[0] + 1 if got.info.size else 0)
    try:
        return await dst.upload_part(bucket, key, upload_id, part_number, body)
    finally:
        await _close(got.body)


async def _close(stream: ByteStream) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
