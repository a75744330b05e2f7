"""The base of the decorator composites (retry, breaker): every operation funnels through ``_call``.

A decorator wraps one backend and changes how calls happen, not what they mean, so it overrides one
method instead of twenty.

Lifecycle: the app starts and closes only the root backend, so every composite starts its members. A
member may sit under several composites (a store routed directly and also the primary of a fallback),
so members are reference-counted: started by the first composite that starts, closed by the last that
closes.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from backends.base import (
    ALWAYS,
    Backend,
    BucketInfo,
    ByteRange,
    Capabilities,
    CompletedPart,
    DeleteResult,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    ObjectPart,
    PartInfo,
    PartsPage,
    PutBody,
    UploadsPage,
    VersionsPage,
    WriteCondition,
)
from backends.errors import NotImplementedByBackend

T = TypeVar("T")

_users: weakref.WeakKeyDictionary[Backend, int] = weakref.WeakKeyDictionary()


def distinct(backends: Iterable[Backend]) -> list[Backend]:
    seen: dict[int, Backend] = {}
    for backend in backends:
        seen.setdefault(id(backend), backend)
    return list(seen.values())


async def start_members(members: Iterable[Backend]) -> None:
    """Start each member unless another composite already did."""
    for member in distinct(members):
        if _users.get(member, 0) == 0:
            await member.start()
        _users[member] = _users.get(member, 0) + 1


async def close_members(members: Iterable[Backend]) -> None:
    """Close each member that no other started composite still uses."""
    for member in distinct(members):
        count = _users.get(member, 0)
        if count <= 1:
            _users.pop(member, None)
            await member.close()
        else:
            _users[member] = count - 1


def current_only(version_id: str | None, backend: str) -> None:
    """For a composite whose members keep separate histories (fallback, mirror): a version id names a
    version of one member only, so only the current object (or ``null``) can be answered truthfully."""
    if version_id is not None and version_id != "null":
        raise NotImplementedByBackend(
            "Object versions are not served through this composite: its members keep separate histories.",
            backend=backend,
        )


class Forwarding(Backend):
    def __init__(self, inner: Backend, *, name: str | None = None):
        self.inner = inner
        self.name = name or inner.name
        self.capabilities = inner.capabilities

    def capabilities_for(self, bucket: str) -> Capabilities:
        return self.inner.capabilities_for(bucket)

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return await fn(*args)

    async def start(self) -> None:
        await start_members([self.inner])

    async def close(self) -> None:
        await close_members([self.inner])

    async def check(self) -> None:
        await self._call(self.inner.check)

    async def list_buckets(self) -> list[BucketInfo]:
        return await self._call(self.inner.list_buckets)

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        await self._call(self.inner.create_bucket, bucket, region)

    async def delete_bucket(self, bucket: str) -> None:
        await self._call(self.inner.delete_bucket, bucket)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        return await self._call(self.inner.head_bucket, bucket)

    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        return await self._call(self.inner.get_bucket_setting, bucket, name)

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        await self._call(self.inner.put_bucket_setting, bucket, name, document)

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        await self._call(self.inner.delete_bucket_setting, bucket, name)

    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        return await self._call(self.inner.put_object, bucket, key, body, meta, cond)

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        return await self._call(self.inner.get_object, bucket, key, range, version_id)

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        return await self._call(self.inner.head_object, bucket, key, version_id)

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        return await self._call(self.inner.stored_checksums, bucket, key, info)

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        return await self._call(self.inner.delete_object, bucket, key, version_id)

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        return await self._call(lambda: self.inner.get_object_tagging(bucket, key, version_id=version_id))

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        await self._call(lambda: self.inner.put_object_tagging(bucket, key, tags, version_id=version_id))

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        await self._call(lambda: self.inner.delete_object_tagging(bucket, key, version_id=version_id))

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        return await self._call(lambda: self.inner.object_parts(bucket, key, version_id=version_id))

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
        return await self._call(
            self.inner.copy_object, src_bucket, src_key, dst_bucket, dst_key, meta, cond, src_version_id
        )

    async def enable_object_lock(self, bucket: str) -> None:
        await self._call(self.inner.enable_object_lock, bucket)

    async def put_object_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        mode: str | None,
        retain_until: str | None,
        bypass_governance: bool = False,
    ) -> ObjectInfo:
        return await self._call(
            self.inner.put_object_retention, bucket, key, version_id, mode, retain_until, bypass_governance
        )

    async def put_object_legal_hold(
        self, bucket: str, key: str, version_id: str | None, on: bool
    ) -> ObjectInfo:
        return await self._call(self.inner.put_object_legal_hold, bucket, key, version_id, on)

    async def delete_object_bypassing_governance(
        self, bucket: str, key: str, version_id: str
    ) -> DeleteResult:
        return await self._call(self.inner.delete_object_bypassing_governance, bucket, key, version_id)

    async def get_bucket_versioning(self, bucket: str) -> str | None:
        return await self._call(self.inner.get_bucket_versioning, bucket)

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        await self._call(self.inner.put_bucket_versioning, bucket, status)

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        return await self._call(
            self.inner.list_object_versions,
            bucket,
            prefix,
            delimiter,
            key_marker,
            version_id_marker,
            max_keys,
        )

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        return await self._call(self.inner.list_objects, bucket, prefix, delimiter, start_after, max_keys)

    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        return await self._call(self.inner.create_multipart_upload, bucket, key, meta)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        return await self._call(self.inner.upload_part, bucket, key, upload_id, part_number, body)

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
        return await self._call(
            self.inner.upload_part_copy, bucket, key, upload_id, part_number, src_bucket, src_key, src_range
        )

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        return await self._call(self.inner.complete_multipart_upload, bucket, key, upload_id, parts, cond)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self._call(self.inner.abort_multipart_upload, bucket, key, upload_id)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        return await self._call(self.inner.list_parts, bucket, key, upload_id, part_number_marker, max_parts)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        return await self._call(
            self.inner.list_multipart_uploads,
            bucket,
            prefix,
            delimiter,
            key_marker,
            upload_id_marker,
            max_uploads,
        )
