"""Mirror: every write goes to all members at once and succeeds when ``write_quorum`` of them stored it.

A PUT body is read once and teed to every member (backends.composite.streams.Tee): the slowest member paces the
others within a few chunks, a member that failed is dropped from the tee, nothing is spooled. A failed
client body fails every member's upload, and its exception reaches the caller unchanged.

- Reads (GET, HEAD, listings, HeadBucket) come from the first member that answers; a member that is
  unavailable, or lacks the object (it was down when it was written), passes the read to the next.
  When nobody has it, the first real answer (NoSuchKey...) is the client's; when nobody answers, the
  first member's error.
- Deletes go to all members; missing counts as deleted. Buckets are created on all (a member that
  already has it counts) and deleted only when empty everywhere.
- Multipart: the upload is created on every member, and the client's upload id carries every member's
  own id (``m~`` + base64url JSON), so parts, completion and abort reach every member with no gateway
  state. Part ETags are the first member's; members must compute them the same way (the MD5 of the part,
  as every supported store does). ListMultipartUploads pages through the first healthy member and
  rebuilds each composite id by pairing its uploads with their twins on the others (same key, same
  rank, initiated together).
- A write short of quorum fails with BackendUnavailable (retryable), or with the members' common answer
  (NoSuchBucket...) when none stored it. Members that did store it keep the new version: there is no
  rollback, so a failed write may still be read later. Every write that succeeded short of some members
  logs a warning on ``s3bridge.mirror`` and counts in ``degraded``.
- Conditional writes (``If-None-Match: *``, ``If-Match``) are refused (NotImplemented): each member would
  decide on its own copy, members that missed a write hold another ETag, and a write short of quorum is
  not rolled back, so racing writers could each win on some members. No answer would be the truth.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
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
    UploadInfo,
    UploadsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS
from backends.composite.forwarding import close_members, current_only, start_members
from backends.composite.streams import Tee, copy_across, part_copy_across
from backends.served import mark

T = TypeVar("T")

log = logging.getLogger("s3bridge.mirror")

MISSING = (be.NoSuchKey, be.NoSuchBucket)
ID_TAG = "m~"
#: How far apart the twins of one upload on two members may have been initiated.
PAIRING_WINDOW = dt.timedelta(minutes=5)
#: Extra uploads asked of the other members, so orphans there do not push twins off their page.
PAIRING_SLACK = 100


def encode_upload_id(ids: Sequence[str | None]) -> str:
    raw = json.dumps(list(ids), separators=(",", ":")).encode()
    return ID_TAG + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_upload_id(upload_id: str, members: int) -> list[str | None]:
    bad = be.NoSuchUpload(detail="upload id not issued by this mirror")
    if not upload_id.startswith(ID_TAG):
        raise bad
    text = upload_id[len(ID_TAG) :]
    try:
        ids = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        raise bad from None
    if not (
        isinstance(ids, list) and len(ids) == members and all(i is None or isinstance(i, str) for i in ids)
    ):
        raise bad
    return ids


class Mirror(Backend):
    def __init__(self, members: Sequence[Backend], write_quorum: int | None = None, *, name: str = "mirror"):
        if not members:
            raise ValueError("a mirror needs members")
        self.name = name
        self.members = list(members)
        self.write_quorum = write_quorum if write_quorum is not None else len(members) // 2 + 1
        if not 1 <= self.write_quorum <= len(members):
            raise ValueError(f"write_quorum must be between 1 and {len(members)}")
        self.capabilities = Capabilities.shared(members)
        #: Writes that succeeded with fewer than all members.
        self.degraded = 0

    # -- the patterns --------------------------------------------------------------------------------
    async def _all(
        self, call: Callable[[int, Backend], Awaitable[T]], which: Sequence[int] | None = None
    ) -> dict[int, BaseException | T]:
        indexes = list(range(len(self.members))) if which is None else list(which)
        outcomes = await asyncio.gather(*(call(i, self.members[i]) for i in indexes), return_exceptions=True)
        return dict(zip(indexes, outcomes, strict=True))

    def _quorum(
        self, op: str, outcomes: dict[int, BaseException | T], missing: type[be.BackendError] | None = None
    ) -> list[tuple[int, T]]:
        """The members that did it, when at least a quorum did (or had nothing to do); else the error."""
        done = [(i, o) for i, o in outcomes.items() if not isinstance(o, BaseException)]
        failed: dict[int, be.BackendError] = {}
        for i, o in outcomes.items():
            if isinstance(o, be.BackendError):
                failed[i] = o
            elif isinstance(o, BaseException):  # a member broke its contract: it failed, the others stand
                name = self.members[i].name
                failed[i] = be.InternalBackendError(detail=f"{type(o).__name__}: {o}", backend=name)
        gone = [i for i, o in failed.items() if missing is not None and isinstance(o, missing)]
        if missing is not None and len(gone) == len(outcomes):
            raise failed[gone[0]]
        errors = {i: e for i, e in failed.items() if i not in gone}
        if len(done) + len(gone) >= self.write_quorum:
            if errors:
                self.degraded += 1
                for i, exc in errors.items():
                    log.warning("%s: %s failed, quorum still met: %s", op, self.members[i].name, exc)
            mark(",".join(self.members[i].name for i, _ in done) or self.members[gone[0]].name)
            return done
        answers = [e for e in errors.values() if not e.retryable]
        if not done and answers:
            raise answers[0]
        first = next(iter(errors.values()))
        raise be.BackendUnavailable(
            detail=f"{op}: {len(done)} of {len(outcomes)} members succeeded, quorum {self.write_quorum}; {first}",
            backend=self.name,
        )

    async def _read(self, call: Callable[[Backend], Awaitable[T]], which: Sequence[int] | None = None) -> T:
        return (await self._read_at(lambda i, m: call(m), which))[1]

    async def _read_at(
        self, call: Callable[[int, Backend], Awaitable[T]], which: Sequence[int] | None = None
    ) -> tuple[int, T]:
        """The first member's answer that is neither unavailability nor a miss, and which member gave it."""
        first: be.BackendError | None = None
        answer: be.BackendError | None = None
        for i in range(len(self.members)) if which is None else which:
            try:
                result = await call(i, self.members[i])
            except be.BackendError as exc:
                if not (exc.retryable or isinstance(exc, MISSING)):
                    raise
                first = first or exc
                if not exc.retryable:
                    answer = answer or exc
                continue
            mark(self.members[i].name)
            return i, result
        raise answer or first or be.BackendUnavailable(detail="no member to read from", backend=self.name)

    async def _from_peers(self, exc: be.BackendError, i: int, copy: Callable[[Backend], Awaitable[T]]) -> T:
        """Run a copy from the first other member that has the source; else re-raise ``exc``."""
        for j, peer in enumerate(self.members):
            if j == i:
                continue
            try:
                return await copy(peer)
            except be.BackendError:
                continue
        raise exc

    # -- buckets -----------------------------------------------------------------------------------
    async def start(self) -> None:
        await start_members(self.members)

    async def close(self) -> None:
        await close_members(self.members)

    async def check(self) -> None:
        await self._read(lambda m: m.check())

    async def list_buckets(self) -> list[BucketInfo]:
        return await self._read(lambda m: m.list_buckets())

    async def head_bucket(self, bucket: str) -> BucketInfo:
        return await self._read(lambda m: m.head_bucket(bucket))

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        outcomes = await self._all(lambda i, m: m.create_bucket(bucket, region))
        existing = [o for o in outcomes.values() if isinstance(o, be.BucketAlreadyOwnedByYou)]
        if len(existing) == len(outcomes):
            raise existing[0]
        self._quorum("CreateBucket", outcomes, missing=be.BucketAlreadyOwnedByYou)

    async def delete_bucket(self, bucket: str) -> None:
        for member in self.members:
            try:
                page = await member.list_objects(bucket, max_keys=1)
            except (be.NoSuchBucket, be.BackendUnavailable):
                continue
            if page.objects or page.common_prefixes:
                raise be.BucketNotEmpty(backend=member.name)
        self._quorum(
            "DeleteBucket", await self._all(lambda i, m: m.delete_bucket(bucket)), missing=be.NoSuchBucket
        )

    # -- bucket settings: written like objects, by quorum (a member that missed a change is as stale
    # as one that missed an object write, and the same write_quorum bounds it) -----------------------
    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        return await self._read(lambda m: m.get_bucket_setting(bucket, name))

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        outcomes = await self._all(lambda i, m: m.put_bucket_setting(bucket, name, document))
        self._settings_quorum("PutBucketSetting", outcomes)

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        outcomes = await self._all(lambda i, m: m.delete_bucket_setting(bucket, name))
        self._settings_quorum("DeleteBucketSetting", outcomes)

    def _settings_quorum(self, op: str, outcomes: dict[int, BaseException | None]) -> None:
        """A mirror keeps bucket settings only when every member can: one that keeps none (an s3
        backend without ``meta_bucket``) makes the mirror answer NotImplemented, as that member would."""
        for outcome in outcomes.values():
            if isinstance(outcome, be.NotImplementedByBackend):
                raise outcome
        self._quorum(op, outcomes)

    # -- objects -----------------------------------------------------------------------------------
    async def _teed(
        self, body: PutBody, which: Sequence[int], call: Callable[[Backend, PutBody], Awaitable[T]]
    ) -> dict[int, BaseException | T]:
        tee = Tee(body, len(which))

        async def one(n: int, member: Backend) -> T:
            try:
                return await call(member, tee.branches[n])
            finally:
                await tee.drop(n)

        outcomes = await asyncio.gather(
            *(one(n, self.members[i]) for n, i in enumerate(which)), return_exceptions=True
        )
        if tee.error is not None:
            raise tee.error  # the client's body failed: every member failed with it, nothing was stored
        return dict(zip(which, outcomes, strict=True))

    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        cond.refuse("PutObject", self.name, "across the members of a mirror")
        outcomes = await self._teed(
            body, range(len(self.members)), lambda m, b: m.put_object(bucket, key, b, meta.copy())
        )
        return self._quorum("PutObject", outcomes)[0][1]

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        current_only(version_id, self.name)
        return await self._read(lambda m: m.get_object(bucket, key, range))

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        current_only(version_id, self.name)
        return await self._read(lambda m: m.head_object(bucket, key))

    async def delete_object(self, bucket: str, key: str, version_id: str | None = None) -> None:
        current_only(version_id, self.name)
        self._quorum(
            "DeleteObject",
            await self._all(lambda i, m: m.delete_object(bucket, key)),
            missing=be.NoSuchBucket,
        )

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        return await self._read(lambda m: m.object_parts(bucket, key, version_id=version_id))

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        return await self._read(lambda m: m.stored_checksums(bucket, key, info))

    # -- object tagging: read like HEAD, written on every member like a delete ------------------------
    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        return await self._read(lambda m: m.get_object_tagging(bucket, key, version_id=version_id))

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        outcomes = await self._all(
            lambda i, m: m.put_object_tagging(bucket, key, tags, version_id=version_id)
        )
        self._quorum("PutObjectTagging", outcomes)

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        outcomes = await self._all(lambda i, m: m.delete_object_tagging(bucket, key, version_id=version_id))
        self._quorum("DeleteObjectTagging", outcomes)

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
        cond.refuse("CopyObject", self.name, "across the members of a mirror")

        async def copy(i: int, member: Backend) -> ObjectInfo:
            try:
                return await member.copy_object(src_bucket, src_key, dst_bucket, dst_key, meta)
            except MISSING as exc:
                return await self._from_peers(
                    exc,
                    i,
                    lambda peer: copy_across(peer, src_bucket, src_key, member, dst_bucket, dst_key, meta),
                )

        return self._quorum("CopyObject", await self._all(copy))[0][1]

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        return await self._read(lambda m: m.list_objects(bucket, prefix, delimiter, start_after, max_keys))

    # -- multipart ---------------------------------------------------------------------------------
    def _ids(self, upload_id: str) -> dict[int, str]:
        ids = decode_upload_id(upload_id, len(self.members))
        return {i: native for i, native in enumerate(ids) if native is not None}

    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        outcomes = await self._all(lambda i, m: m.create_multipart_upload(bucket, key, meta.copy()))
        created: dict[int, str] = dict(self._quorum("CreateMultipartUpload", outcomes))
        return encode_upload_id([created.get(i) for i in range(len(self.members))])

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        ids = self._ids(upload_id)
        outcomes = await self._teed(
            body,
            list(ids),
            lambda m, b: m.upload_part(bucket, key, ids[self.members.index(m)], part_number, b),
        )
        return self._quorum("UploadPart", outcomes)[0][1]

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
        ids = self._ids(upload_id)

        async def copy(i: int, member: Backend) -> PartInfo:
            try:
                return await member.upload_part_copy(
                    bucket, key, ids[i], part_number, src_bucket, src_key, src_range
                )
            except MISSING as exc:
                return await self._from_peers(
                    exc,
                    i,
                    lambda peer: part_copy_across(
                        peer, src_bucket, src_key, src_range, member, bucket, key, ids[i], part_number
                    ),
                )

        return self._quorum("UploadPartCopy", await self._all(copy, list(ids)))[0][1]

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        cond.refuse("CompleteMultipartUpload", self.name, "across the members of a mirror")
        ids = self._ids(upload_id)
        outcomes = await self._all(
            lambda i, m: m.complete_multipart_upload(bucket, key, ids[i], parts), list(ids)
        )
        return self._quorum("CompleteMultipartUpload", outcomes)[0][1]

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        ids = self._ids(upload_id)
        outcomes = await self._all(lambda i, m: m.abort_multipart_upload(bucket, key, ids[i]), list(ids))
        failed = [
            o
            for o in outcomes.values()
            if isinstance(o, BaseException) and not isinstance(o, be.NoSuchUpload)
        ]
        if failed:
            raise failed[0]
        if all(isinstance(o, be.NoSuchUpload) for o in outcomes.values()):
            raise next(iter(outcomes.values()))  # type: ignore[misc]

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        ids = self._ids(upload_id)
        return await self._read(
            lambda m: m.list_parts(bucket, key, ids[self.members.index(m)], part_number_marker, max_parts),
            list(ids),
        )

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        """The first healthy member's page, each upload paired with its twins on the other members.

        Members hand out their own ids, so the composite id is rebuilt by pairing: the n-th upload of a
        key on the leading member with the n-th upload of that key on each other member, when they were
        initiated within PAIRING_WINDOW of each other (the mirror creates them together). An upload a
        member lacks keeps an empty slot and is completed or aborted without that member.
        """
        markers = self._ids(upload_id_marker) if upload_id_marker else {}

        def listing(i: int, member: Backend, limit: int) -> Awaitable[UploadsPage]:
            return member.list_multipart_uploads(
                bucket, prefix, delimiter, key_marker, markers.get(i, ""), limit
            )

        lead, page = await self._read_at(lambda i, m: listing(i, m, max_uploads))
        others = await self._all(
            lambda i, m: listing(i, m, max_uploads + PAIRING_SLACK),
            [i for i in range(len(self.members)) if i != lead],
        )
        twins: dict[int, dict[str, list[UploadInfo]]] = {}
        for i, outcome in others.items():
            if isinstance(outcome, UploadsPage):
                by_key: dict[str, list[UploadInfo]] = {}
                for upload in outcome.uploads:
                    by_key.setdefault(upload.key, []).append(upload)
                twins[i] = by_key
        seen: dict[str, int] = {}
        for upload in page.uploads:
            nth = seen.get(upload.key, 0)
            seen[upload.key] = nth + 1
            slots: list[str | None] = [None] * len(self.members)
            slots[lead] = upload.upload_id
            for i, by_key in twins.items():
                candidates = by_key.get(upload.key, [])
                if (
                    nth < len(candidates)
                    and abs(candidates[nth].initiated - upload.initiated) <= PAIRING_WINDOW
                ):
                    slots[i] = candidates[nth].upload_id
            upload.upload_id = encode_upload_id(slots)
        if page.next_upload_id_marker:  # the last upload listed, twins included, so every member resumes
            last = decode_upload_id(page.uploads[-1].upload_id, len(self.members)) if page.uploads else []
            if not last or last[lead] != page.next_upload_id_marker:
                last = [None] * len(self.members)
                last[lead] = page.next_upload_id_marker
            page.next_upload_id_marker = encode_upload_id(last)
        return page


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", title="mirror backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("members",)

    type: Literal["mirror"]
    members: list[str] = pydantic.Field(min_length=1)
    #: Members that must store a write for it to succeed; default a majority.
    write_quorum: int | None = pydantic.Field(None, ge=1)

    @pydantic.model_validator(mode="after")
    def _quorum_fits(self) -> Settings:
        if self.write_quorum is not None and self.write_quorum > len(self.members):
            raise ValueError(f"write_quorum {self.write_quorum} exceeds the {len(self.members)} members")
        return self


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    """``io_threads`` is for backends that block; a composite does not."""
    return Mirror([lookup(m) for m in settings.members], settings.write_quorum, name=name)
