"""The filesystem backend: buckets as directories under one root, objects as files.

Layout (``root`` from the settings)::

    <root>/<bucket>/.created              the bucket's creation time
    <root>/<bucket>/.settings/<name>      the bucket's settings documents (see fs_bucketsettings)
    <root>/<bucket>/<encoded key path>    one file per object (see fs_keys for the encoding)
    <root>/<bucket>/<key dirs>/v<name>/   noncurrent versions and delete markers (see fs_versions)
    <root>/.s3bridge/tmp/p-<pid>-<token>/ this process's temp files and staging (see fs tempdirs)
    <root>/.s3bridge/uploads/<bucket>/    multipart uploads (see fs_multipart)
    <root>/.s3bridge/locks/<nnnn>         per-key write locks across processes (see fs keylocks)
    <root>/.s3bridge/dirlocks/<nnnn>      per-directory locks for the listing index (see fs treeindex)
    <root>/.s3bridge/index/<bucket>.<n>.sqlite   the listing index (see fs nameindex)

Metadata choice: each object file carries its own metadata in a footer (data, JSON record, fixed-size
trailer; see fs_format), not a sidecar. One rename of a temp file from ``.s3bridge/tmp`` (same
filesystem) therefore publishes data and metadata together; a crash before the rename leaves only a
temp file in the dead process's temp directory, reclaimed by the next start; readers keep the file
they opened, so an overwrite never tears a GET. A listing reads a page's worth of rows of the bucket's
sorted name index (fs treeindex) and checks each object on it with an ``lstat``.

Blocking file calls run on the bridge's BlockingPool (``backends.fs.io``): uploads are written in batches of at least
``WRITE_BATCH`` bytes, downloads read in ``READ_CHUNK`` pieces, so the event loop never waits on disk.
A download larger than ``WHOLE_READ`` is also a ``FileSpan``: on plain HTTP the gateway sends it from
the descriptor with sendfile (gateway.zerocopy) instead of reading it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from backends import errors as be
from backends.base import (
    ALWAYS,
    VERSIONING_STATES,
    Backend,
    ByteRange,
    DeleteResult,
    GetResult,
    ListedPage,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    ObjectPart,
    PutBody,
    VersionsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS
from backends.fs import objectlock
from backends.fs import versions as fs_versions
from backends.fs.core import WHOLE_READ, FsCore
from backends.fs.format import Record, TempFile, meta_to_dict
from backends.fs.io import FileBody, os_error
from backends.fs.keys import key_components
from backends.fs.multipartops import FsMultipart
from backends.fs.parts import parts_of
from backends.fs.retag import retag
from backends.fs.settings import Settings
from backends.fs.versionlisting import versions_page
from backends.fs.versions import KeyFiles
from backends.wholebody import WholeBody

__all__ = ["WHOLE_READ", "FsBackend", "FsCore", "build"]


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    return FsBackend(settings.root, name=name, fsync=settings.fsync, io_threads=io_threads)


T = TypeVar("T")


class FsBackend(FsMultipart):
    """Objects, tagging, copies, listings, versioning and Object Lock over the core and multipart parts."""

    # -- objects ---------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        # The bucket's ``isdir`` on the loop while such calls stay fast (fs inline), as a GET's open is.
        base, components = await self.io.quick(self._object_path, bucket, key)
        temp = await self._spool(body)
        stored = meta_to_dict(meta)
        stored["checksums"] = {**meta.checksums, **body.checksums}
        record = Record(temp.etag, time.time_ns(), stored, size=temp.size)
        await self._commit(temp, record, base, components, (bucket, key, cond))
        return record.object_info(key)

    def _open_for_read(
        self, bucket: str, key: str, range: ByteRange | None, version_id: str | None
    ) -> tuple[Record, tuple[int, int] | None, int | bytes]:
        """Open, read the record and resolve the range in one pool call; a span of at most WHOLE_READ
        bytes is read whole right here (then the descriptor is closed)."""
        fd, record = self._open(bucket, key, version_id)
        try:
            span = None
            if range is not None:
                span = range.resolve(record.size)
                if span is None:
                    raise be.InvalidRange(size=record.size, backend=self.name)
            start, end = span if span is not None else (0, record.size - 1)
            if end - start + 1 > WHOLE_READ:
                return record, span, fd
            data = _pread_exact(fd, end - start + 1, start) if end >= start else b""
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return record, span, data

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        try:
            record, span, opened = await self.io.quick(self._open_for_read, bucket, key, range, version_id)
        except OSError as exc:
            raise os_error(exc, "read") from None
        if isinstance(opened, bytes):
            return GetResult(record.object_info(key), WholeBody(opened), span)
        start, end = span if span is not None else (0, record.size - 1)
        return GetResult(record.object_info(key), FileBody(self.io, opened, start, end + 1), span)

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        fd, record = await self._open_async(bucket, key, version_id)
        os.close(fd)
        return record.object_info(key)

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        return await self._delete(bucket, key, version_id, bypass=False)

    async def delete_object_bypassing_governance(
        self, bucket: str, key: str, version_id: str
    ) -> DeleteResult:
        return await self._delete(bucket, key, version_id, bypass=True) or DeleteResult()

    async def _delete(
        self, bucket: str, key: str, version_id: str | None, bypass: bool
    ) -> DeleteResult | None:
        def delete() -> DeleteResult | None:
            base, components = self._object_path(bucket, key)
            status = self._versioning(base)
            if status is not None or version_id not in (None, "null"):
                return self._delete_versioned(bucket, key, base, components, status, version_id, bypass)
            try:
                os.unlink(os.path.join(base, *components))
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:
                raise os_error(exc, "delete") from None
            self._fsync_dir(os.path.join(base, *components[:-1]))
            self.tree.forget_key(bucket, key, base, components)
            self.tree.prune(base, components)
            return None

        return await self.io.run(delete)

    def _delete_versioned(
        self,
        bucket: str,
        key: str,
        base: str,
        components: list[str],
        status: str | None,
        version_id: str | None,
        bypass: bool = False,
    ) -> DeleteResult:
        """A delete in a versioned bucket, or of a named version (blocking, under the key lock); a
        locked version is refused (fs_objectlock)."""
        if status is None:  # never versioned: only ``null`` names a version, and was handled before
            fs_versions.check_id(version_id or "", self.name)
            return DeleteResult()
        files = KeyFiles.of(base, components)
        try:
            with self.key_locks.hold(bucket, key):
                self.tree.announce_versions(base, components)
                if version_id is None:
                    result = self._mark_deleted(base, components, files, status)
                else:
                    fs_versions.check_id(version_id, self.name)
                    objectlock.guard_delete(files, version_id, bypass, self.name)
                    result = fs_versions.delete_version(files, version_id)
        except OSError as exc:
            raise os_error(exc, "delete") from None
        self._fsync_dir(os.path.dirname(files.current))
        self.tree.forget_key(bucket, key, base, components)
        self.tree.prune(base, components)
        return result

    def _mark_deleted(self, base: str, components: list[str], files: KeyFiles, status: str) -> DeleteResult:
        """A delete marker, in a parent directory made (and announced) if missing; retried when a
        concurrent delete prunes that directory meanwhile."""
        for _ in range(10):
            self.tree.make_parents(base, components)
            try:
                return fs_versions.mark_deleted(files, status, self.tmp, self.fsync)
            except FileNotFoundError:
                continue
        raise be.InternalBackendError(detail="parent directory kept vanishing", backend=self.name)

    # -- object tagging (tags live in the object's record; see fs retag) ------------------------------
    def _current_version(self, version_id: str | None) -> None:
        if version_id not in (None, "null"):
            raise be.NotImplementedByBackend(
                "Object versions are not kept by this backend.", backend=self.name
            )

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        self._current_version(version_id)
        fd, record = await self._open_async(bucket, key)
        os.close(fd)
        return record.object_meta().tags

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        self._current_version(version_id)

        def rewrite() -> None:
            base, components = self._object_path(bucket, key)
            with self.key_locks.hold(bucket, key):
                retag(
                    os.path.join(base, *components),
                    self.tmp,
                    tags,
                    fsync=self.fsync,
                    publish=lambda temp_path: self._fsync_dir(self._publish(temp_path, base, components)),
                    key=key,
                    backend=self.name,
                )

        await self.io.checked("rewriting an object record", rewrite)

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        await self.put_object_tagging(bucket, key, {}, version_id=version_id)

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        self._current_version(version_id)
        fd, record = await self._open_async(bucket, key)
        os.close(fd)
        return parts_of(record)

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
        base, components = await self.io.run(self._object_path, dst_bucket, dst_key)
        fd, source = await self._open_async(src_bucket, src_key, src_version_id)
        try:
            temp = await self.io.checked("creating a temporary file", TempFile, self.tmp)
            await self._copy_into(temp, fd, 0, source.size)
        finally:
            os.close(fd)
        src_meta = source.object_meta()
        if meta is None:
            stored = src_meta
        else:  # new headers, but the checksums still describe the same bytes
            stored = meta.copy(
                checksums=meta.checksums or src_meta.checksums,
                checksum_type=meta.checksum_type or src_meta.checksum_type,
            )
        record = Record(temp.etag, time.time_ns(), meta_to_dict(stored), size=temp.size)
        await self._commit(temp, record, base, components, (dst_bucket, dst_key, cond))
        return record.object_info(dst_key)

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        return await self._listing(self.tree.objects_page, bucket, prefix, delimiter, start_after, max_keys)

    async def list_objects_listed(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListedPage:
        return await self._listing(self.tree.light_page, bucket, prefix, delimiter, start_after, max_keys)

    async def _listing(self, build: Callable[..., T], bucket: str, *args: object) -> T:
        """A page ``build`` makes (one of the tree index's page builders) in the I/O pool."""
        try:
            return await self.io.run(lambda: build(bucket, self._bucket_dir(bucket), *args))
        except OSError as exc:
            raise os_error(exc, "list") from None

    # -- versioning ------------------------------------------------------------------------------
    async def get_bucket_versioning(self, bucket: str) -> str | None:
        return await self.io.checked("read versioning", lambda: self._versioning(self._bucket_dir(bucket)))

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        if status not in VERSIONING_STATES:
            raise be.InvalidArgument(f"Unknown versioning status {status!r}.")
        await self.put_bucket_setting(bucket, "versioning", status.encode())

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        def page() -> VersionsPage:
            bucket_dir = self._bucket_dir(bucket)
            if version_id_marker:
                fs_versions.check_id(version_id_marker, self.name)
            files = KeyFiles.of(bucket_dir, key_components(key_marker)) if version_id_marker else None
            return self.tree.indexes.call(
                bucket_dir,
                lambda ix: versions_page(
                    bucket_dir, files, prefix, delimiter, key_marker, version_id_marker, max_keys, ix
                ),
            )

        return await self.io.checked("list versions", page)

    # -- object lock (see fs_objectlock) ---------------------------------------------------------
    async def enable_object_lock(self, bucket: str) -> None:
        await self.put_bucket_versioning(bucket, "Enabled")

    async def put_object_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        mode: str | None,
        retain_until: str | None,
        bypass_governance: bool = False,
    ) -> ObjectInfo:
        def check(meta: dict[str, object]) -> None:
            objectlock.check_retention_change(meta, mode, retain_until, bypass_governance, self.name)

        changes: dict[str, object] = {"lock_mode": mode, "lock_retain_until": retain_until if mode else None}
        return await self._relock(bucket, key, version_id, changes, check)

    async def put_object_legal_hold(
        self, bucket: str, key: str, version_id: str | None, on: bool
    ) -> ObjectInfo:
        return await self._relock(bucket, key, version_id, {"legal_hold": on}, None)

    async def _relock(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        changes: dict[str, object],
        check: Callable[[dict[str, object]], None] | None,
    ) -> ObjectInfo:
        def relock() -> ObjectInfo:
            base, components = self._object_path(bucket, key)
            status = self._versioning(base)
            if version_id is not None:
                fs_versions.check_id(version_id, self.name)
            with self.key_locks.hold(bucket, key):
                record = objectlock.rewrite_lock(
                    KeyFiles.of(base, components),
                    version_id,
                    status,
                    changes,
                    self.tmp,
                    self.fsync,
                    self.name,
                    check,
                )
            return record.object_info(key)

        return await self.io.checked("changing an object lock", relock)


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset``; a file shorter than its record is a corrupt object."""
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            raise be.InternalBackendError(detail="object file shorter than its record")
        data += more
    return data
