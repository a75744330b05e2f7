"""Fallback: a primary store, and a secondary that takes over while the primary is unavailable.

Wrap the primary in Retry (and Breaker) first: Fallback reacts to what is left after those, a store
that cannot serve: an unavailability error (``BackendError.retryable``) or AccessDenied (the store
refuses us: revoked credentials, a read-only or immutable disk). Answers about the request itself
(NoSuchUpload, InvalidPart, BucketNotEmpty...) are the client's and are never retried elsewhere.

Decisions, per kind of operation:

- **PUT / UploadPart bodies are never held**: a PUT goes to the secondary only when the primary failed
  before pulling a single byte of the client's body (a breaker that is open, a refused connection).
  If the primary failed after consuming part of the body, those bytes exist nowhere any more, so the
  client gets the primary's retryable error (503) and retries; with a breaker on the primary, repeated
  failures open it and the client's retry then goes straight to the secondary. Nothing acknowledged is
  ever lost, and nothing is buffered.
- **Other writes** (copy, create multipart upload) go to the primary, and to the secondary when the
  primary is unavailable. A copy whose source only one store has (written there during an outage) is
  streamed across. A multipart upload stays on the store it started on: its upload id carries the store
  (``p~``/``s~`` + the store's id), so the gateway keeps no state and never mixes parts of two stores.
- **Reads** (GET, HEAD, HeadBucket) try the primary, then the secondary when the primary is unavailable
  or does not have the object (it may have been written during an outage). When both fail, the client
  gets the primary's answer. Known limit: an object overwritten on the secondary during an outage reads
  as the primary's older version once the primary is back, until someone reconciles the stores.
- **Listings** (ListObjects, ListBuckets, ListMultipartUploads) come from the primary, from the
  secondary only while the primary is unavailable; no merging, so keys written during an outage are not
  listed once the primary is back (they still read).
- **Deletes** go to both stores; a key or bucket missing on one of them is success (it is gone). A
  store that is unavailable fails the delete with its retryable error, because deleting on one store
  only would let the object come back from the other.
- **Buckets** are created on both stores, so that writes can fall back at all; the primary's answer is
  the client's unless the primary is unavailable. A bucket is deleted only when empty on both.

``served_by`` (backends.served) names the store that answered. Every fallback caused by unavailability
logs one warning on ``s3bridge.fallback`` when it turns to the secondary, and increments ``fallbacks``
(read by the metrics module) only once the secondary has served it: an operation both stores failed is
the client's error, not a fallback that worked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal, TypeVar

import pydantic

from backends import errors as be
from backends.base import (
    Backend,
    BucketInfo,
    ByteRange,
    Capabilities,
    CompletedPart,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    PutBody,
    UploadsPage,
)
from backends.bridge import DEFAULT_THREADS
from backends.composite.breaker import Breaker
from backends.composite.forwarding import close_members, start_members
from backends.composite.streams import TrackedBody, copy_across, part_copy_across
from backends.served import mark

T = TypeVar("T")

log = logging.getLogger("s3bridge.fallback")

TAGS = ("p~", "s~")
MISSING = (be.NoSuchKey, be.NoSuchBucket)


def _unavailable(exc: BaseException) -> bool:
    """The store cannot serve us, whatever the request: the case for the other store."""
    return isinstance(exc, be.BackendError) and (exc.retryable or isinstance(exc, be.AccessDenied))


class Fallback(Backend):
    def __init__(self, primary: Backend, secondary: Backend, *, name: str = "fallback"):
        self.name = name
        self.primary = primary
        self.secondary = secondary
        self.members = (primary, secondary)
        self.capabilities = Capabilities.shared(self.members)
        #: Operations the secondary served because the primary was unavailable.
        self.fallbacks = 0

    def _fell_back(self, op: str, exc: BaseException) -> None:
        log.warning("%s: %s unavailable, using %s: %s", op, self.primary.name, self.secondary.name, exc)

    # -- the three patterns ------------------------------------------------------------------------
    async def _write(self, op: str, call: Callable[[Backend], Awaitable[T]], can_fall_back: bool = True) -> T:
        """Primary; the secondary when the primary is unavailable. Both failing: the primary's error."""
        try:
            result = await call(self.primary)
        except be.BackendError as exc:
            if not (_unavailable(exc) and can_fall_back):
                raise
            self._fell_back(op, exc)
            try:
                result = await call(self.secondary)
            except be.BackendError as second:
                log.warning("%s: %s failed too: %s", op, self.secondary.name, second)
                raise exc from second
            self.fallbacks += 1
            mark(self.secondary.name)
            return result
        mark(self.primary.name)
        return result

    async def _read(self, op: str, call: Callable[[Backend], Awaitable[T]]) -> T:
        """Primary; the secondary when the primary is unavailable or misses. Both failing: the primary's."""
        try:
            result = await call(self.primary)
        except be.BackendError as exc:
            if not (_unavailable(exc) or isinstance(exc, MISSING)):
                raise
            if _unavailable(exc):
                self._fell_back(op, exc)
            try:
                result = await call(self.secondary)
            except be.BackendError:
                raise exc from None
            if _unavailable(exc):
                self.fallbacks += 1
            mark(self.secondary.name)
            return result
        mark(self.primary.name)
        return result

    async def _both(self, call: Callable[[Backend], Awaitable[None]]) -> list[BaseException | None]:
        outcomes = await asyncio.gather(*(call(m) for m in self.members), return_exceptions=True)
        for outcome in outcomes:
            if outcome is not None and not isinstance(outcome, be.BackendError):
                raise outcome  # a bug or a cancellation, not a store's answer
        mark(",".join(m.name for m in self.members))
        return list(outcomes)

    # -- buckets -----------------------------------------------------------------------------------
    async def start(self) -> None:
        await start_members(self.members)

    async def close(self) -> None:
        await close_members(self.members)

    async def check(self) -> None:
        await self._read("check", lambda b: b.check())

    async def list_buckets(self) -> list[BucketInfo]:
        return await self._write("ListBuckets", lambda b: b.list_buckets())

    async def head_bucket(self, bucket: str) -> BucketInfo:
        return await self._read("HeadBucket", lambda b: b.head_bucket(bucket))

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        first, second = await self._both(lambda b: b.create_bucket(bucket, region))
        if second is not None:
            log.warning("CreateBucket %s on %s: %s", bucket, self.secondary.name, second)
        if first is None:
            return
        if not _unavailable(first):
            raise first
        self._fell_back("CreateBucket", first)
        if second is not None:
            raise first
        self.fallbacks += 1

    async def delete_bucket(self, bucket: str) -> None:
        for member in self.members:
            try:
                page = await member.list_objects(bucket, max_keys=1)
            except be.NoSuchBucket:
                continue
            if page.objects or page.common_prefixes:
                raise be.BucketNotEmpty(backend=member.name)
        outcomes = await self._both(lambda b: b.delete_bucket(bucket))
        self._settle_delete(outcomes, missing=be.NoSuchBucket)

    @staticmethod
    def _settle_delete(outcomes: list[BaseException | None], missing: type[be.BackendError]) -> None:
        """Gone from both stores (deleted or missing) is success; missing on both is the missing error."""
        errors = [o for o in outcomes if o is not None and not isinstance(o, missing)]
        if errors:
            raise errors[0]
        if all(o is not None for o in outcomes):
            raise outcomes[0]  # type: ignore[misc]

    # -- objects -----------------------------------------------------------------------------------
    async def put_object(self, bucket: str, key: str, body: PutBody, meta: ObjectMeta) -> ObjectInfo:
        tracked = TrackedBody(body)
        try:
            info = await self.primary.put_object(bucket, key, tracked, meta)
        except be.BackendError as exc:
            if tracked.consumed and isinstance(exc, be.AccessDenied):
                raise be.BackendUnavailable(detail=str(exc), backend=self.name) from exc  # resend, elsewhere
            if tracked.consumed or not (_unavailable(exc) or isinstance(exc, be.NoSuchBucket)):
                raise  # part of the body is gone with the failed attempt: the client must resend
            if _unavailable(exc):
                self._fell_back("PutObject", exc)
            try:
                info = await self.secondary.put_object(bucket, key, tracked, meta)
            except be.BackendError as second:
                log.warning("PutObject: %s failed too: %s", self.secondary.name, second)
                raise exc from second
            if _unavailable(exc):
                self.fallbacks += 1
            mark(self.secondary.name)
            return info
        mark(self.primary.name)
        return info

    async def get_object(self, bucket: str, key: str, range: ByteRange | None = None) -> GetResult:
        return await self._read("GetObject", lambda b: b.get_object(bucket, key, range))

    async def head_object(self, bucket: str, key: str) -> ObjectInfo:
        return await self._read("HeadObject", lambda b: b.head_object(bucket, key))

    async def delete_object(self, bucket: str, key: str) -> None:
        outcomes = await self._both(lambda b: b.delete_object(bucket, key))
        self._settle_delete(outcomes, missing=be.NoSuchBucket)

    async def copy_object(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, meta: ObjectMeta | None
    ) -> ObjectInfo:
        async def copy(dst: Backend) -> ObjectInfo:
            try:
                return await dst.copy_object(src_bucket, src_key, dst_bucket, dst_key, meta)
            except MISSING as exc:  # the source may be on the other store only
                other = self.secondary if dst is self.primary else self.primary
                try:
                    return await copy_across(other, src_bucket, src_key, dst, dst_bucket, dst_key, meta)
                except be.BackendError:
                    raise exc from None

        return await self._write("CopyObject", copy)

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        return await self._write(
            "ListObjects", lambda b: b.list_objects(bucket, prefix, delimiter, start_after, max_keys)
        )

    # -- multipart ---------------------------------------------------------------------------------
    def _member(self, upload_id: str) -> tuple[Backend, str]:
        for tag, member in zip(TAGS, self.members, strict=True):
            if upload_id.startswith(tag):
                mark(member.name)
                return member, upload_id[len(tag) :]
        raise be.NoSuchUpload(detail="upload id not issued by this fallback", backend=self.name)

    def _tag(self, member: Backend, upload_id: str) -> str:
        return TAGS[0 if member is self.primary else 1] + upload_id

    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        async def create(member: Backend) -> str:
            return self._tag(member, await member.create_multipart_upload(bucket, key, meta))

        return await self._write("CreateMultipartUpload", create)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        member, native = self._member(upload_id)
        return await member.upload_part(bucket, key, native, part_number, body)

    async def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        src_range: tuple[int, int] | None,
    ) -> PartInfo:
        member, native = self._member(upload_id)
        try:
            return await member.upload_part_copy(
                bucket, key, native, part_number, src_bucket, src_key, src_range
            )
        except MISSING as exc:
            other = self.secondary if member is self.primary else self.primary
            try:
                return await part_copy_across(
                    other, src_bucket, src_key, src_range, member, bucket, key, native, part_number
                )
            except be.BackendError:
                raise exc from None

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[CompletedPart]
    ) -> ObjectInfo:
        member, native = self._member(upload_id)
        return await member.complete_multipart_upload(bucket, key, native, parts)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        member, native = self._member(upload_id)
        await member.abort_multipart_upload(bucket, key, native)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        member, native = self._member(upload_id)
        return await member.list_parts(bucket, key, native, part_number_marker, max_parts)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        async def listing(member: Backend) -> UploadsPage:
            tag = self._tag(member, "")
            marker = upload_id_marker[len(tag) :] if upload_id_marker.startswith(tag) else ""
            page = await member.list_multipart_uploads(
                bucket, prefix, delimiter, key_marker, marker, max_uploads
            )
            for upload in page.uploads:
                upload.upload_id = tag + upload.upload_id
            if page.next_upload_id_marker:
                page.next_upload_id_marker = tag + page.next_upload_id_marker
            return page

        return await self._write("ListMultipartUploads", listing)


class BreakerOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    failure_threshold: int = pydantic.Field(5, ge=1)
    reset_timeout: float = pydantic.Field(30.0, ge=0)


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", title="fallback backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("primary", "secondary")

    type: Literal["fallback"]
    primary: str
    secondary: str
    #: Put a circuit breaker on the primary, so a dead primary is skipped at once (see module doc).
    breaker: BreakerOptions | None = None


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    """``io_threads`` is for backends that block; a composite does not."""
    primary = lookup(settings.primary)
    if settings.breaker is not None:
        primary = Breaker(
            primary, settings.breaker.failure_threshold, settings.breaker.reset_timeout, name=primary.name
        )
    return Fallback(primary, lookup(settings.secondary), name=name)
