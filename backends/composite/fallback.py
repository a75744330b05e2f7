"""Fallback: a primary store, and a secondary that takes over while the primary is unavailable, with
an outage journal (journal.py) that makes the primary converge once it is back.

Wrap the primary in Retry (and Breaker) first: Fallback reacts to what is left after those, a store
that cannot serve: an unavailability error (``BackendError.retryable``) or AccessDenied (the store
refuses us: revoked credentials, a read-only or immutable disk). Answers about the request itself
(NoSuchUpload, InvalidPart, BucketNotEmpty...) are the client's and are never retried elsewhere.

The journal lives in the secondary store (a reserved bucket, ``s3bridge-journal`` by default, under the
fallback's name), so every gateway replica sees it. A key is *pending* while it has journal entries not
yet replayed; for a pending key the secondary holds the latest acknowledged state. Decisions, per kind
of operation:

- **PUT / UploadPart bodies are never held**: a PUT goes to the secondary only when the primary failed
  before pulling a single byte of the client's body (a breaker that is open, a refused connection).
  If the primary failed after consuming part of the body, those bytes exist nowhere any more, so the
  client gets the primary's retryable error (503) and retries; with a breaker on the primary, repeated
  failures open it and the client's retry then goes straight to the secondary. A write the secondary
  takes is acknowledged only once journalled (else the client gets the 503). Nothing is buffered.
- **Other writes** (copy, create multipart upload) go to the primary, and to the secondary when the
  primary is unavailable (a copy is then journalled). A copy whose source only one store has is streamed
  across; a pending source is read from the secondary. A multipart upload stays on the store it started
  on: its upload id carries the store (``p~``/``s~`` + the store's id), so the gateway keeps no state;
  completing one on the secondary journals the object.
- **Writes and deletes of a pending key** go to the secondary and the journal even when the primary is
  up, so the replay, in order, is what updates the primary, and never puts an older copy over a newer.
- **Reads** (GET, HEAD) of a pending key come from the secondary alone (a tombstone answers NoSuchKey).
  Others (and HeadBucket) try the primary, then the secondary when the primary is unavailable or does not
  have the object. When both fail, the client gets the primary's answer.
- **Listings** (ListObjects, ListBuckets, ListMultipartUploads) come from the primary, from the
  secondary only while the primary is unavailable. A primary's object listing is overlaid with the
  journal's pending keys (overlay.py): pending puts listed with the secondary's info, pending deletes
  hidden. The journal's bucket is never listed, and refused (AccessDenied) to clients.
- **Deletes** go to both stores; a key or bucket missing on one of them is success (it is gone). With the
  primary unavailable, a delete is acknowledged once the secondary applied it and the journal holds the
  tombstone. Without a journal (``journal.enabled: false``) such a delete fails with the primary's
  retryable error, because deleting on one store only would let the object come back from the other.
- **Buckets** are created on both stores, so that writes can fall back at all; the primary's answer is
  the client's unless the primary is unavailable (the replay creates it on the primary later). A bucket
  is deleted only when empty on both (BucketNotEmpty while tombstones of it are pending).
- **Conditional writes** (``If-None-Match: *``, ``If-Match``; PUT, copy, Complete) are decided by the
  primary alone, which holds the key's state, and never fall back: a secondary cannot know what the
  primary holds, and two stores deciding one key could each let a racing writer win. While the primary is
  unavailable, or while the key is pending (its state is in the secondary until the replay), such a write
  is refused with ServiceUnavailable, and succeeds once that passes; Complete of an upload begun on the
  secondary cannot carry a condition at all (NotImplemented).
- **Replay** (reconcile.py): a background task of every gateway, and ``s3bridge reconcile``; the replica
  holding the journal's lease replays entries oldest first, making the primary's copy of each key what
  the secondary's is, and removes an entry only after the primary holds it.

Limits: with the secondary unreachable, whether a key is pending cannot be known and reads trust the
primary; keys within ~130 bytes of the secondary's key-length limit cannot be journalled (their writes
fail during an outage); the lease assumes clocks that agree to well within its ttl (reconcile.py).

``served_by`` (backends.served) names the store that answered. Every fallback caused by unavailability
logs one warning on ``s3bridge.fallback`` when it turns to the secondary, and increments ``fallbacks``
(read by the metrics module) only once the secondary has served it: an operation both stores failed is
the client's error, not a fallback that worked. ``journal_depth``, ``journal_oldest_age`` and
``journal_replayed`` are the journal's figures for the metrics module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal, TypeVar

import pydantic

from backends import errors as be
from backends.base import (
    ALWAYS,
    Backend,
    BucketInfo,
    ByteRange,
    Capabilities,
    CompletedPart,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    ObjectPart,
    PartInfo,
    PartsPage,
    PutBody,
    UploadsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS
from backends.composite.breaker import Breaker, BreakerOptions
from backends.composite.forwarding import close_members, current_only, start_members
from backends.composite.journal import DEFAULT_BUCKET, Journal
from backends.composite.journalled import Journalled
from backends.composite.lease import Lease
from backends.composite.overlay import overlay
from backends.composite.reconcile import Reconciler, unavailable
from backends.composite.streams import TrackedBody, copy_across, part_copy_across
from backends.served import mark

T = TypeVar("T")

log = logging.getLogger("s3bridge.fallback")

TAGS = ("p~", "s~")
MISSING = (be.NoSuchKey, be.NoSuchBucket)


_unavailable = unavailable


class Fallback(Journalled, Backend):
    def __init__(
        self,
        primary: Backend,
        secondary: Backend,
        *,
        name: str = "fallback",
        journal: Journal | None = None,
        reconcile_interval: float = 2.0,
        lease_ttl: float = 30.0,
    ):
        self.name = name
        self.primary = primary
        self.secondary = secondary
        self.members = (primary, secondary)
        self.capabilities = Capabilities.shared(self.members)
        #: Operations the secondary served because the primary was unavailable.
        self.fallbacks = 0
        #: What the secondary took in the primary's place, to replay (None: no journal, see module doc).
        self.journal = journal
        self.reconciler = (
            None
            if journal is None
            else Reconciler(primary, secondary, journal, Lease(journal, lease_ttl), reconcile_interval)
        )

    # -- the three patterns ------------------------------------------------------------------------
    async def _write(
        self,
        op: str,
        call: Callable[[Backend], Awaitable[T]],
        can_fall_back: bool = True,
        journal: tuple[str, str] | None = None,
    ) -> T:
        """Primary; the secondary when the primary is unavailable (journalling ``journal``'s key as
        written). Both failing: the primary's error."""
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
            if journal is not None:
                await self._record(*journal, "put", exc)
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
        if self.journal is not None and self.reconciler is not None:
            try:
                await self.journal.ensure()
            except be.BackendError as exc:  # created on first use; the secondary may be down right now
                log.warning("journal bucket %s on %s: %s", self.journal.bucket, self.secondary.name, exc)
            self.reconciler.start()

    async def close(self) -> None:
        if self.reconciler is not None:
            await self.reconciler.stop()
        await close_members(self.members)

    async def check(self) -> None:
        await self._read("check", lambda b: b.check())

    async def list_buckets(self) -> list[BucketInfo]:
        found = await self._write("ListBuckets", lambda b: b.list_buckets())
        return [b for b in found if self.journal is None or b.name != self.journal.bucket]

    async def head_bucket(self, bucket: str) -> BucketInfo:
        self._guard(bucket)
        return await self._read("HeadBucket", lambda b: b.head_bucket(bucket))

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        self._guard(bucket)
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
        self._guard(bucket)
        for member in self.members:
            try:
                page = await member.list_objects(bucket, max_keys=1)
            except be.NoSuchBucket:
                continue
            if page.objects or page.common_prefixes:
                raise be.BucketNotEmpty(backend=member.name)
        outcomes = await self._both(lambda b: b.delete_bucket(bucket))
        self._settle_delete(outcomes, missing=be.NoSuchBucket)

    # -- bucket settings: written to both members, as CreateBucket is; a member that is down (or lacks
    # the bucket) is passed by, logged, when the other took the change; any other refusal is the answer
    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        self._guard(bucket)
        return await self._read("GetBucketSetting", lambda b: b.get_bucket_setting(bucket, name))

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        self._guard(bucket)
        self._settle_setting(
            "PutBucketSetting", await self._both(lambda b: b.put_bucket_setting(bucket, name, document))
        )

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        self._guard(bucket)
        self._settle_setting(
            "DeleteBucketSetting", await self._both(lambda b: b.delete_bucket_setting(bucket, name))
        )

    def _settle_setting(self, op: str, outcomes: list[BaseException | None]) -> None:
        passable = [o is None or _unavailable(o) or isinstance(o, be.NoSuchBucket) for o in outcomes]
        if any(o is None for o in outcomes) and all(passable):
            for member, outcome in zip(self.members, outcomes, strict=True):
                if outcome is not None:
                    log.warning("%s on %s passed by: %s", op, member.name, outcome)
            return
        raise next(o for o in outcomes if o is not None)

    @staticmethod
    def _settle_delete(outcomes: list[BaseException | None], missing: type[be.BackendError]) -> None:
        """Gone from both stores (deleted or missing) is success; missing on both is the missing error."""
        errors = [o for o in outcomes if o is not None and not isinstance(o, missing)]
        if errors:
            raise errors[0]
        if all(o is not None for o in outcomes):
            raise outcomes[0]  # type: ignore[misc]

    async def _decidable(self, bucket: str, key: str) -> None:
        """Refuse a conditional write the primary cannot decide now: the key's state is pending in the
        secondary (the replay brings it back to the primary, and the write succeeds after that)."""
        if await self._pending(bucket, key):
            raise be.BackendUnavailable(
                detail=f"{bucket}/{key} awaits replay: a conditional write is decided on the primary",
                backend=self.name,
            )

    # -- objects -----------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        self._guard(bucket)
        if cond:
            await self._decidable(bucket, key)
            info = await self.primary.put_object(bucket, key, body, meta, cond)
            mark(self.primary.name)
            return info
        tracked = TrackedBody(body)
        if await self._pending(bucket, key):
            return await self._journalled(
                bucket, key, "put", lambda b: b.put_object(bucket, key, tracked, meta)
            )
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
            await self._record(bucket, key, "put", exc)
            if _unavailable(exc):
                self.fallbacks += 1
            mark(self.secondary.name)
            return info
        mark(self.primary.name)
        return info

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        current_only(version_id, self.name)
        self._guard(bucket)
        if await self._pending(bucket, key):
            mark(self.secondary.name)
            return await self.secondary.get_object(bucket, key, range)
        return await self._read("GetObject", lambda b: b.get_object(bucket, key, range))

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        current_only(version_id, self.name)
        self._guard(bucket)
        if await self._pending(bucket, key):
            mark(self.secondary.name)
            return await self.secondary.head_object(bucket, key)
        return await self._read("HeadObject", lambda b: b.head_object(bucket, key))

    # -- object tagging: where the object is (the secondary while its key is pending replay, else the
    # primary); a tagging write never falls back, as the secondary may not hold the object at all.
    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        current_only(version_id, self.name)
        self._guard(bucket)
        if await self._pending(bucket, key):
            mark(self.secondary.name)
            return await self.secondary.get_object_tagging(bucket, key, version_id=version_id)
        return await self._read(
            "GetObjectTagging", lambda b: b.get_object_tagging(bucket, key, version_id=version_id)
        )

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        current_only(version_id, self.name)
        self._guard(bucket)
        if await self._pending(bucket, key):
            mark(self.secondary.name)
            return await self.secondary.object_parts(bucket, key, version_id=version_id)
        return await self._read("ObjectParts", lambda b: b.object_parts(bucket, key, version_id=version_id))

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        self._guard(bucket)
        if await self._pending(bucket, key):
            return await self.secondary.stored_checksums(bucket, key, info)
        return await self._read("StoredChecksums", lambda b: b.stored_checksums(bucket, key, info))

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        current_only(version_id, self.name)
        self._guard(bucket)
        holder = self.secondary if await self._pending(bucket, key) else self.primary
        await holder.put_object_tagging(bucket, key, tags, version_id=version_id)
        mark(holder.name)

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        await self.put_object_tagging(bucket, key, {}, version_id=version_id)

    async def delete_object(self, bucket: str, key: str, version_id: str | None = None) -> None:
        current_only(version_id, self.name)
        self._guard(bucket)

        async def drop(b: Backend) -> None:
            await b.delete_object(bucket, key)

        if await self._pending(bucket, key):
            return await self._journalled(bucket, key, "delete", drop)
        first, second = outcomes = await self._both(drop)
        if (
            self.journal is not None
            and isinstance(first, be.BackendError)
            and _unavailable(first)
            and second is None
        ):
            # Gone from the secondary, and the tombstone journalled: the replay deletes it on the primary.
            self._fell_back("DeleteObject", first)
            await self._record(bucket, key, "delete", first)
            self.fallbacks += 1
            mark(self.secondary.name)
            return
        self._settle_delete(outcomes, missing=be.NoSuchBucket)

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta | None,
        cond: WriteCondition = ALWAYS,
        src_version_id: str | None = None,
    ) -> ObjectInfo:
        current_only(src_version_id, self.name)
        self._guard(src_bucket)
        self._guard(dst_bucket)
        src_pending = await self._pending(src_bucket, src_key)

        async def copy(dst: Backend) -> ObjectInfo:
            if src_pending and dst is self.primary:  # the primary's copy of the source is out of date
                return await copy_across(
                    self.secondary, src_bucket, src_key, dst, dst_bucket, dst_key, meta, cond
                )
            try:
                return await dst.copy_object(src_bucket, src_key, dst_bucket, dst_key, meta, cond)
            except MISSING as exc:  # the source may be on the other store only
                if src_pending:
                    raise  # the journal says the secondary's answer is the current one
                other = self.secondary if dst is self.primary else self.primary
                try:
                    return await copy_across(other, src_bucket, src_key, dst, dst_bucket, dst_key, meta, cond)
                except be.BackendError:
                    raise exc from None

        if cond:
            await self._decidable(dst_bucket, dst_key)
            info = await copy(self.primary)
            mark(self.primary.name)
            return info
        if await self._pending(dst_bucket, dst_key):
            return await self._journalled(dst_bucket, dst_key, "put", copy)
        return await self._write("CopyObject", copy, journal=(dst_bucket, dst_key))

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        self._guard(bucket)

        async def listing(member: Backend) -> ListPage:
            page = await member.list_objects(bucket, prefix, delimiter, start_after, max_keys)
            if member is self.secondary or self.journal is None or max_keys <= 0:
                return page  # the secondary holds every journalled write already
            try:
                pending = await self.journal.pending_under(bucket, prefix)
                if not pending:
                    return page
                return await overlay(
                    page, pending, self.secondary, bucket, prefix, delimiter, start_after, max_keys
                )
            except be.BackendError as exc:
                if not _unavailable(exc):
                    raise
                log.warning("ListObjects: journal on %s unreadable: %s", self.secondary.name, exc)
                return page

        return await self._write("ListObjects", listing)

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
        self._guard(bucket)

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
        self._guard(src_bucket)
        src_pending = await self._pending(src_bucket, src_key)
        if src_pending and member is self.primary:  # the primary's copy of the source is out of date
            return await part_copy_across(
                self.secondary, src_bucket, src_key, src_range, member, bucket, key, native, part_number
            )
        try:
            return await member.upload_part_copy(
                bucket, key, native, part_number, src_bucket, src_key, src_range
            )
        except MISSING as exc:
            if src_pending:
                raise
            other = self.secondary if member is self.primary else self.primary
            try:
                return await part_copy_across(
                    other, src_bucket, src_key, src_range, member, bucket, key, native, part_number
                )
            except be.BackendError:
                raise exc from None

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        member, native = self._member(upload_id)
        if cond:
            if member is self.secondary:
                raise be.NotImplementedByBackend(
                    "A conditional CompleteMultipartUpload of an upload begun while the primary store was "
                    "unavailable cannot be decided.",
                    backend=self.name,
                )
            await self._decidable(bucket, key)
        info = await member.complete_multipart_upload(bucket, key, native, parts, cond)
        if member is self.secondary:
            await self._record(bucket, key, "put", None)
        else:
            await self._settled(bucket, key)
        return info

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


class JournalOptions(pydantic.BaseModel):
    #: Off: a fallback without convergence (a delete then needs both stores; nothing is replayed).
    enabled: bool = True
    #: A bucket of the secondary reserved for the journal (created at start when missing).
    bucket: str = DEFAULT_BUCKET
    #: Key prefix of this fallback's journal in that bucket (default: the fallback's name and ``/``),
    #: so several fallbacks can share a secondary.
    prefix: str | None = None
    #: Seconds between the background reconciler's passes; 0 runs none (``s3bridge reconcile`` does).
    reconcile_interval: float = pydantic.Field(2.0, ge=0)
    #: Seconds a replica's replay lease lasts unless renewed.
    lease_ttl: float = pydantic.Field(30.0, gt=0)


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", title="fallback backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("primary", "secondary")

    type: Literal["fallback"]
    primary: str
    secondary: str
    #: Put a circuit breaker on the primary, so a dead primary is skipped at once (see module doc).
    breaker: BreakerOptions | None = None
    #: The outage journal in the secondary, replayed to the primary once it is back (see module doc).
    journal: JournalOptions = pydantic.Field(default_factory=JournalOptions)


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    """``io_threads`` is for backends that block; a composite does not."""
    primary = lookup(settings.primary)
    if settings.breaker is not None:
        primary = Breaker(
            primary, settings.breaker.failure_threshold, settings.breaker.reset_timeout, name=primary.name
        )
    secondary = lookup(settings.secondary)
    options = settings.journal
    if not options.enabled:
        return Fallback(primary, secondary, name=name)
    prefix = f"{name}/" if options.prefix is None else options.prefix
    return Fallback(
        primary,
        secondary,
        name=name,
        journal=Journal(secondary, options.bucket, prefix),
        reconcile_interval=options.reconcile_interval,
        lease_ttl=options.lease_ttl,
    )
