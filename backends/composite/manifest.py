"""What the encrypt composite learns from a sealed object's trailers: its layout, plaintext size and ETag.

A store takes an object's metadata before its body, and CompleteMultipartUpload takes none at all, so
what is known only once the bytes have flowed (each segment's plaintext MD5, hence S3's ETag; each part's
plaintext length, hence a multipart object's size and where its parts start) is sealed at the end of
each segment (``sealed`` trailers) and read back from there: one small ranged read per segment, walking
backwards from the end, or all at once when the stored part sizes are known (after Complete).

Objects of the previous format (``sealedv1``: no trailers) are recognised by their first header when
the trailers do not hold, and laid out by walking their headers forward (one small read per segment);
their ETag is the store's, as that release answered.

A manifest is a function of the stored bytes alone, and sealed bytes never repeat (random data keys
and nonces), so it is cached by the store's ETag and size for good (that ETag names the write, and
need not be a digest: a sealed body tells the store any unique one will do, ``AnyUniqueEtag``, and fs
then skips hashing the sealed bytes). An object is read this way once per gateway process, and every
later HEAD, GET or listing of it costs nothing more than without encryption.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backends.base import Backend, ByteRange, ObjectInfo
from backends.composite import sealed, sealedv1

#: S3's limit on an upload's parts: more segments than this is not an object this layer wrote.
MAX_SEGMENTS = 10_000
#: Trailer reads in flight at once for one object, and objects resolved at once for one listing page.
CONCURRENCY = 16
#: What the cache may hold, counted in segments (an object of N parts counts N, one not sealed 1): a few
#: hundred bytes each, so at most some ten MiB however many parts the objects have.
CACHE_SEGMENTS = 32_768


@dataclass(frozen=True)
class Segment:
    at: int  # where its header starts in the stored bytes
    plain: int  # where its plaintext starts in the object
    header: sealed.Header


@dataclass(frozen=True)
class Manifest:
    """A sealed object as clients see it: ``etag`` is S3's (the plaintext MD5, or the MD5 of the parts'
    MD5s and ``-N``) when the trailers could be opened, else the store's (SSE-C without the key)."""

    segments: tuple[Segment, ...]
    size: int
    etag: str
    md5s: tuple[bytes, ...] | None = None  # each segment's plaintext MD5, when the trailers were opened

    @property
    def single(self) -> bool:
        """Written by one PutObject (one segment, part 0), not uploaded in parts."""
        return len(self.segments) == 1 and self.segments[0].header.part == 0

    def segment_at(self, offset: int) -> Segment:
        """The segment holding plaintext ``offset``."""
        return next(s for s in self.segments if s.plain + s.header.length > offset)


class Changed(Exception):
    """The object changed between the reads that were to describe it."""


def etag_of(headers: list[sealed.Header], md5s: list[bytes]) -> str:
    """S3's ETag: a PutObject's plaintext MD5; a multipart object's MD5 of its parts' MD5s, ``-N``."""
    if len(headers) == 1 and headers[0].part == 0:
        return md5s[0].hex()
    return f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"


def store_parts(etag: str) -> int | None:
    """The part count a store's multipart ETag ends with (``-N``), None for an ETag of one body."""
    _, dash, count = etag.rpartition("-")
    return int(count) if dash and count.isdigit() else None


def build(headers: list[sealed.Header], md5s: list[bytes] | None, stored_etag: str) -> Manifest:
    """The manifest of segments in order (md5s None: the trailers were not opened, the store's ETag).

    Parts are sealed before anyone knows how many there will be, so the count is checked against the
    store's multipart ETag: a multipart object cut down to its first parts and stored as one body
    fails here instead of being served short. A PutObject's one segment (part 0, complete by its final
    package and trailer) may have any store ETag: a store puts a body of unknown length in parts."""
    parts = [h.part for h in headers]
    if not headers or (
        parts != [0] and (parts[0] < 1 or any(a >= b for a, b in zip(parts, parts[1:], strict=False)))
    ):
        raise sealed.SealError("the segments are not one object's, in order")
    if parts != [0] and store_parts(stored_etag) != len(parts):
        raise sealed.SealError(
            f"{len(parts)} segment(s) where the store's ETag {stored_etag!r} says otherwise"
        )
    segments, at, plain = [], 0, 0
    for h in headers:
        segments.append(Segment(at, plain, h))
        at, plain = at + h.stored_size, plain + h.length
    if md5s is None:
        return Manifest(tuple(segments), plain, stored_etag)
    return Manifest(tuple(segments), plain, etag_of(headers, md5s), tuple(md5s))


#: What ``Reader.read`` asks of the object's stored metadata: its data key for SSE-S3, None to read the
#: layout only (an SSE-C object's ETag is the store's, as S3's is not its MD5 either); NotSealed raised
#: for an object stored before this layer.
KeyFor = Callable[[ObjectInfo], "bytes | None"]


class NotSealed(Exception):
    """The object was stored before the encrypt layer: served as it is."""


def _weight(manifest: Manifest | None) -> int:
    return 1 if manifest is None else len(manifest.segments)


class Reader:
    """Reads manifests from ``inner``, each read pinned to the version and checked against the ETag."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self._cache: OrderedDict[tuple[str, int], Manifest | None] = OrderedDict()
        self._held = 0  # segments in the cache

    def cached(self, info: ObjectInfo) -> Manifest | None | Literal[False]:
        """The cached manifest (None: not sealed), or False when the object is not in the cache."""
        entry = (info.etag, info.size)
        if entry not in self._cache:
            return False
        self._cache.move_to_end(entry)
        return self._cache[entry]

    def remember(self, info: ObjectInfo, manifest: Manifest | None) -> Manifest | None:
        entry = (info.etag, info.size)
        if entry in self._cache:
            self._held -= _weight(self._cache.pop(entry))
        self._cache[entry] = manifest
        self._held += _weight(manifest)
        while self._held > CACHE_SEGMENTS and len(self._cache) > 1:
            self._held -= _weight(self._cache.popitem(last=False)[1])
        return manifest

    async def span(
        self, bucket: str, key: str, info: ObjectInfo, first: int, length: int
    ) -> tuple[ObjectInfo, bytes]:
        """``length`` stored bytes at ``first`` of the object ``info`` describes, and the object's stored
        info as this read met it (with its metadata, which a listing does not carry)."""
        got = await self.inner.get_object(bucket, key, ByteRange(first, first + length - 1), info.version_id)
        try:
            if (got.info.etag, got.info.size) != (info.etag, info.size):
                raise Changed()
            raw = b"".join([chunk async for chunk in got.body])
        finally:
            aclose = getattr(got.body, "aclose", None)
            if aclose is not None:
                await aclose()
        if len(raw) != length:
            raise sealed.SealError("the stored bytes end early")
        return got.info, raw

    async def trailer(self, bucket: str, key: str, info: ObjectInfo, end: int) -> tuple[ObjectInfo, bytes]:
        """The trailer ending at stored offset ``end``, and the object's stored info (``span``)."""
        if end < sealed.TRAILER:
            raise sealed.SealError("the stored bytes do not end on a segment")
        return await self.span(bucket, key, info, end - sealed.TRAILER, sealed.TRAILER)

    async def read(
        self, bucket: str, key: str, info: ObjectInfo, key_for: KeyFor, sizes: list[int] | None = None
    ) -> Manifest | None:
        """The manifest of the stored object ``info`` (None: stored before this layer); ``sizes``: the
        stored segment sizes when known, read at once. An object whose trailers do not hold is read as
        the earlier format (``sealedv1``) if its first header says so. Raises SealError for bytes this
        layer did not write, Changed when the object was replaced meanwhile."""
        found = self.cached(info)
        if not isinstance(found, bool):
            return found
        last: bytes | None = None
        if info.size < sealed.HEADER + sealed.TAG + sealed.TRAILER:
            met = await self.inner.head_object(bucket, key, info.version_id)
            if met.etag != info.etag:
                raise Changed()
        else:
            met, last = await self.trailer(bucket, key, info, info.size)
        try:
            data_key = key_for(met)
        except NotSealed:  # stored before this layer
            return self.remember(info, None)
        try:
            if last is None:
                raise sealed.SealError(f"{info.size} stored bytes cannot hold a sealed segment")
            return self.remember(info, await self._v2(bucket, key, info, data_key, last, sizes))
        except sealed.SealError as exc:
            if sizes is not None or info.size < sealedv1.stored_size(0):
                raise
            headers = await self._v1(bucket, key, info, exc)
            return self.remember(info, build(headers, None, info.etag))

    async def _v2(
        self,
        bucket: str,
        key: str,
        info: ObjectInfo,
        data_key: bytes | None,
        last: bytes,
        sizes: list[int] | None,
    ) -> Manifest:
        aead = AESGCM(data_key) if data_key is not None else None
        if aead is not None:
            sealed.open_trailer(aead, last)  # the last trailer first: v1 bytes fail here, before a walk
        if sizes is not None:
            raws = [*await self._at_once(bucket, key, info, sizes[:-1]), last]
        else:
            raws = await self._backwards(bucket, key, info, last)
        opened = [
            sealed.open_trailer(aead, raw) if aead else (sealed.trailer_header(raw), b"") for raw in raws
        ]
        headers = [h for h, _ in opened]
        if sizes is not None and ([h.stored_size for h in headers] != sizes or sum(sizes) != info.size):
            raise sealed.SealError("a trailer disagrees with its part's stored size")
        return build(headers, [m for _, m in opened] if aead else None, info.etag)

    async def _v1(
        self, bucket: str, key: str, info: ObjectInfo, v2_error: sealed.SealError
    ) -> list[sealed.Header]:
        """The headers of an object in the earlier format, walked forward from its first (one read each);
        ``v2_error`` again when the object does not start as one: neither format, so not ours."""
        _, raw = await self.span(bucket, key, info, 0, sealed.HEADER)
        if not sealedv1.Header.magic_of(raw):
            raise v2_error
        headers: list[sealed.Header] = [sealedv1.Header.parse(raw)]
        at = headers[0].stored_size
        while at < info.size:
            if len(headers) == MAX_SEGMENTS:
                raise sealed.SealError("more segments than an upload has parts")
            if info.size - at < sealed.HEADER:
                break
            _, raw = await self.span(bucket, key, info, at, sealed.HEADER)
            headers.append(sealedv1.Header.parse(raw))
            at += headers[-1].stored_size
        if at != info.size:
            raise sealed.SealError("the stored bytes do not split into v1 segments")
        return headers

    async def _backwards(self, bucket: str, key: str, info: ObjectInfo, last: bytes) -> list[bytes]:
        raws = [last]
        end = info.size - sealed.trailer_header(last).stored_size
        while end > 0:
            if len(raws) == MAX_SEGMENTS:
                raise sealed.SealError("more segments than an upload has parts")
            _, raw = await self.trailer(bucket, key, info, end)
            raws.append(raw)
            end -= sealed.trailer_header(raw).stored_size
        if end < 0:
            raise sealed.SealError("the stored bytes do not split into segments")
        return raws[::-1]

    async def _at_once(self, bucket: str, key: str, info: ObjectInfo, sizes: list[int]) -> list[bytes]:
        ends, total = [], 0
        for size in sizes:
            total += size
            ends.append(total)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(end: int) -> bytes:
            async with gate:
                return (await self.trailer(bucket, key, info, end))[1]

        return list(await asyncio.gather(*(one(end) for end in ends)))
