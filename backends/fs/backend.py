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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio

from backends import errors as be
from backends.base import (
    ALWAYS,
    VERSIONING_STATES,
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
    body_md5,
)
from backends.bridge import DEFAULT_THREADS
from backends.fs import objectlock
from backends.fs import versions as fs_versions
from backends.fs.bucketsettings import BucketSettingsFiles
from backends.fs.completions import Completions
from backends.fs.dirsync import DirSync
from backends.fs.format import CorruptObject, Record, TempFile, meta_to_dict, read_record, read_record_at
from backends.fs.io import READ_CHUNK, FileBody, FileIO, os_error
from backends.fs.keylocks import KeyLocks, check_condition
from backends.fs.keys import check_bucket, key_components
from backends.fs.multipart import (
    Upload,
    UploadStore,
    check_completion,
    multipart_etag,
    object_checksums,
    part_name,
    uploads_page,
)
from backends.fs.parts import PARTS_FIELD, part_layout, parts_of
from backends.fs.retag import retag
from backends.fs.settings import Settings
from backends.fs.tempdirs import ProcessTempDir
from backends.fs.treeindex import TreeIndex
from backends.fs.versionlisting import bucket_is_empty, versions_page
from backends.fs.versions import KeyFiles
from backends.wholebody import WholeBody

T = TypeVar("T")

WRITE_BATCH = 1024 * 1024
#: A GET of at most this many bytes is read whole in the call that opens the file: one streamed chunk's
#: worth, so no more memory than streaming it, and one thread hop and one plain response instead.
WHOLE_READ = READ_CHUNK
COPY_SLICE = 64 * 1024 * 1024
STATE_DIR = ".s3bridge"
CREATED_FILE = ".created"


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    return FsBackend(settings.root, name=name, fsync=settings.fsync, io_threads=io_threads)


def _nearest_existing(path: str) -> str:
    """``path`` or its closest ancestor that exists (blocking); a file in the way is reported as itself."""
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


class FsBackend(Backend):
    capabilities = Capabilities(stores_checksums=True)
    #: ``start`` makes the state directory; a dry check (``s3bridge check-config``) must not call it.
    start_writes = True

    def __init__(
        self, root: Path | str, *, name: str = "fs", fsync: bool = True, io_threads: int = DEFAULT_THREADS
    ):
        self.name = name
        self.io = FileIO(io_threads, name=f"fs-{name}")
        self.root = os.path.abspath(root)
        self.fsync = fsync
        self.state = os.path.join(self.root, STATE_DIR)
        self.temps = ProcessTempDir(os.path.join(self.state, "tmp"))
        self.uploads = UploadStore(os.path.join(self.state, "uploads"), self.temps)
        self.completions = Completions(self.uploads.uploads_dir)
        self.key_locks = KeyLocks(os.path.join(self.state, "locks"))
        self.dir_sync = DirSync()
        self.tree = TreeIndex(self.state, self.key_locks, self._fsync_dir)
        self.settings_files = BucketSettingsFiles(lambda: self.tmp, fsync)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.io.run(self._prepare)

    def _prepare(self) -> None:
        os.makedirs(self.uploads.uploads_dir, exist_ok=True)
        if not self.temps.path:  # made in the process that serves (after any fork): its lock is its own
            self.temps.acquire()

    async def close(self) -> None:
        try:
            await self.io.run(self.temps.release)
        finally:
            self.io.close()

    @property
    def tmp(self) -> str:
        """This process's own temp directory (made, and the dead processes' reclaimed, by ``start``)."""
        return self.temps.current

    async def check(self) -> None:
        """The temp directory is writable; before ``start``, the nearest directory that exists on the
        way to it, where start would make it (so a check creates nothing)."""
        where = self.temps.path or await self.io.run(_nearest_existing, self.temps.parent)
        if not await self.io.run(os.path.isdir, where):
            raise be.BackendUnavailable(detail=f"{where} is not a directory")
        if not await self.io.run(os.access, where, os.W_OK):
            raise be.BackendUnavailable(detail=f"{where} is not writable")

    # -- paths -----------------------------------------------------------------------------------
    def _bucket_dir(self, bucket: str) -> str:
        """The bucket's directory, which must exist (blocking)."""
        path = os.path.join(self.root, check_bucket(bucket))
        if not os.path.isdir(path):
            raise be.NoSuchBucket(detail=bucket, backend=self.name)
        return path

    def _object_path(self, bucket: str, key: str) -> tuple[str, list[str]]:
        """(bucket dir, key components); checks the key first so a bad key never touches the disk."""
        components = key_components(key)
        return self._bucket_dir(bucket), components

    def _fsync_dir(self, path: str) -> None:
        if self.fsync:
            self.dir_sync.sync(path)  # shared with concurrent writers to the same directory

    def _publish(self, temp_path: str, base: str, components: list[str], indexed: bool = True) -> str:
        """Rename into place, making parent directories; retried if a delete prunes them meanwhile.
        Returns the directory the caller must fsync before acknowledging (outside any key lock).
        ``indexed``: a bucket's object, announced to the listing index first (under the key's lock)."""
        for _ in range(10):
            parent = base
            try:
                announced = None
                if indexed:
                    parent = self.tree.make_parents(base, components)
                    announced = self.tree.announce_object(base, components, temp_path)
                else:
                    for name in components[:-1]:
                        parent = os.path.join(parent, name)
                        if not os.path.isdir(parent):
                            with contextlib.suppress(FileExistsError):
                                os.mkdir(parent)
                                self._fsync_dir(os.path.dirname(parent))
                os.rename(temp_path, os.path.join(parent, components[-1]))
            except FileNotFoundError:
                if not os.path.isdir(base):
                    raise be.NoSuchBucket(backend=self.name) from None
                continue
            if indexed:
                self.tree.confirm_object(base, components, announced)
            return parent
        raise be.InternalBackendError(detail="parent directory kept vanishing", backend=self.name)

    # -- writing ---------------------------------------------------------------------------------
    async def _spool(self, body: PutBody) -> TempFile:
        """Stream a body into a temp file; on any failure the temp file goes and the error propagates."""
        md5 = body_md5(body)
        temp = await self.io.checked(
            "creating a temporary file", lambda: TempFile(self.tmp, md5_from=md5, writeback=self.fsync)
        )
        try:
            batch: list[bytes] = []
            pending = 0
            async for chunk in body:
                batch.append(chunk)
                pending += len(chunk)
                if pending >= WRITE_BATCH:
                    await self.io.checked("writing a temporary file", temp.write, b"".join(batch))
                    batch, pending = [], 0
            if batch:
                await self.io.checked("writing a temporary file", temp.write, b"".join(batch))
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.io.run(temp.discard)
            raise
        return temp

    async def _commit(
        self,
        temp: TempFile,
        record: Record,
        base: str,
        components: list[str],
        guard: tuple[str, str, WriteCondition] | None = None,
    ) -> None:
        """Finish the temp file and rename it into place. ``guard`` (bucket, key, condition) marks an
        object write: its key lock is held across the condition's check and the rename."""

        def commit() -> None:
            status = self._versioning(base) if guard is not None else None
            if status is None:
                temp.finish(record, self.fsync)
            if guard is None:
                parent = self._publish(temp.path, base, components, indexed=False)
            else:
                bucket, key, cond = guard
                published: list[str] = []

                def rename() -> None:
                    published.append(self._publish(temp.path, base, components))

                with self.key_locks.hold(bucket, key):
                    if cond:
                        check_condition(cond, os.path.join(base, *components), self.name)
                    if status is None:
                        rename()
                    else:
                        self.tree.announce_versions(base, components)
                        fs_versions.publish(
                            KeyFiles.of(base, components), temp, record, status, self.fsync, rename
                        )
                parent = published[-1]
            # The rename's fsync, after the lock: a writer that saw this object under the lock is
            # acknowledged only after its own directory fsync, which began later and covers this rename.
            self._fsync_dir(parent)

        try:
            await self.io.run(commit)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.io.run(temp.discard)
            if isinstance(exc, OSError):
                raise os_error(exc, "commit") from None
            raise

    async def _copy_into(self, temp: TempFile, fd: int, start: int, end: int) -> None:
        try:
            for pos in range(start, end, COPY_SLICE):
                await self.io.run(temp.copy_from, fd, pos, min(pos + COPY_SLICE, end), READ_CHUNK)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.io.run(temp.discard)
            if isinstance(exc, (OSError, CorruptObject)):
                raise be.InternalBackendError(detail=f"copy: {exc}", backend=self.name) from None
            raise

    # -- reading ---------------------------------------------------------------------------------
    def _versioning(self, bucket_dir: str) -> str | None:
        """The bucket's versioning status (blocking): None for a bucket never versioned."""
        document = self.settings_files.read(bucket_dir, "versioning")
        return document.decode() if document else None

    def _open(self, bucket: str, key: str, version_id: str | None = None) -> tuple[int, Record]:
        base, components = self._object_path(bucket, key)
        status = self._versioning(base)
        for _attempt in range(3):  # a version read may race its move from current to noncurrent
            path = fs_versions.version_path(KeyFiles.of(base, components), version_id, status, self.name)
            fd, record = self._open_path(path, key, version_id)
            if version_id is None or fs_versions.id_of(fs_versions.record_name(record)) == version_id:
                break
            os.close(fd)
        else:
            raise be.NoSuchVersion(detail=f"{version_id} kept moving", backend=self.name)
        if fs_versions.is_marker(record):
            os.close(fd)
            raise be.DeleteMarkerVersion(version_id, backend=self.name)
        if status is not None and "version" not in record.meta:
            record.meta["version"] = fs_versions.record_name(record)  # written before versioning: null
        return fd, record

    def _open_path(self, path: str, key: str, version_id: str | None) -> tuple[int, Record]:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            if version_id is not None:
                raise be.NoSuchVersion(detail=version_id, backend=self.name) from None
            raise be.NoSuchKey(detail=key, backend=self.name) from None
        except OSError as exc:
            raise os_error(exc, "open") from None
        try:
            return fd, read_record(fd)
        except (OSError, CorruptObject) as exc:
            os.close(fd)
            raise be.InternalBackendError(
                detail=f"unreadable object file: {exc}", backend=self.name
            ) from None

    async def _open_async(self, bucket: str, key: str, version_id: str | None = None) -> tuple[int, Record]:
        return await self.io.run(self._open, bucket, key, version_id)

    # -- buckets ---------------------------------------------------------------------------------
    def _bucket_info(self, name: str, path: str) -> BucketInfo:
        try:
            with open(os.path.join(path, CREATED_FILE), encoding="ascii") as f:
                created_ns = int(f.read().strip())
        except (OSError, ValueError):
            created_ns = os.stat(path).st_mtime_ns
        return BucketInfo(name, dt.datetime.fromtimestamp(created_ns / 1e9, tz=dt.timezone.utc))

    async def list_buckets(self) -> list[BucketInfo]:
        def scan() -> list[BucketInfo]:
            found = []
            for entry in os.scandir(self.root):
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                    with contextlib.suppress(be.InvalidBucketName, OSError):
                        found.append(self._bucket_info(check_bucket(entry.name), entry.path))
            return sorted(found, key=lambda b: b.name)

        return await self.io.run(scan)

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        def create() -> None:
            path = os.path.join(self.root, check_bucket(bucket))
            if os.path.exists(path):
                raise be.BucketAlreadyOwnedByYou(detail=bucket, backend=self.name)
            self.tree.new_bucket(path)
            staging = os.path.join(self.tmp, f"bucket-{secrets.token_hex(8)}")
            os.mkdir(staging)
            with open(os.path.join(staging, CREATED_FILE), "w", encoding="ascii") as f:
                f.write(str(time.time_ns()))
            try:
                os.rename(staging, path)  # fails on an existing bucket, which is never empty
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    raise be.BucketAlreadyOwnedByYou(detail=bucket, backend=self.name) from None
                raise os_error(exc, "create bucket") from None
            self.tree.made_bucket(path)
            self._fsync_dir(self.root)

        await self.io.run(create)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        return await self.io.run(lambda: self._bucket_info(bucket, self._bucket_dir(bucket)))

    async def delete_bucket(self, bucket: str) -> None:
        def delete() -> None:
            path = self._bucket_dir(bucket)
            if not bucket_is_empty(path):
                raise be.BucketNotEmpty(detail=bucket, backend=self.name)
            doomed = os.path.join(self.tmp, f"gone-bucket-{secrets.token_hex(8)}")
            try:
                os.rename(path, doomed)
            except FileNotFoundError:
                raise be.NoSuchBucket(detail=bucket, backend=self.name) from None
            if not bucket_is_empty(doomed):
                # A PUT landed between the check and the rename (and was acknowledged): put the bucket
                # back. PUTs arriving after the rename find no bucket and fail; none is lost.
                os.rename(doomed, path)
                raise be.BucketNotEmpty(detail=bucket, backend=self.name)
            self._fsync_dir(self.root)
            shutil.rmtree(doomed, ignore_errors=True)
            self.uploads.remove_bucket(bucket)

        await self.io.run(delete)

    # -- bucket settings -------------------------------------------------------------------------
    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        return await self.io.checked(
            "read bucket setting", lambda: self.settings_files.read(self._bucket_dir(bucket), name)
        )

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        await self.io.checked(
            "write bucket setting",
            lambda: self.settings_files.write(self._bucket_dir(bucket), name, document),
        )

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        await self.io.checked(
            "remove bucket setting", lambda: self.settings_files.remove(self._bucket_dir(bucket), name)
        )

    # -- objects ---------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        base, components = await self.io.run(self._object_path, bucket, key)
        temp = await self._spool(body)
        stored = meta.copy(checksums={**meta.checksums, **body.checksums})
        record = Record(temp.md5_hex, time.time_ns(), meta_to_dict(stored), size=temp.size)
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
            record, span, opened = await self.io.run(self._open_for_read, bucket, key, range, version_id)
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
        record = Record(temp.md5_hex, time.time_ns(), meta_to_dict(stored), size=temp.size)
        await self._commit(temp, record, base, components, (dst_bucket, dst_key, cond))
        return record.object_info(dst_key)

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        def page() -> ListPage:
            return self.tree.objects_page(
                bucket, self._bucket_dir(bucket), prefix, delimiter, start_after, max_keys
            )

        try:
            return await self.io.run(page)
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

    # -- multipart -------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        def create() -> str:
            self._object_path(bucket, key)
            return self.uploads.create(bucket, key, meta)

        return await self.io.checked("creating an upload", create)

    def _upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        self._bucket_dir(bucket)
        return self.uploads.get(bucket, key, upload_id)

    async def _store_part(
        self, upload_path: str, number: int, temp: TempFile, checksums: dict[str, str]
    ) -> PartInfo:
        if not 1 <= number <= 10000:
            await self.io.run(temp.discard)
            raise be.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive.")
        record = Record(temp.md5_hex, time.time_ns(), {"checksums": checksums}, size=temp.size)
        try:
            await self._commit(temp, record, upload_path, [part_name(number)])
        except be.NoSuchBucket:
            raise be.NoSuchUpload(detail="aborted while the part was uploading", backend=self.name) from None
        return record.part_info(number)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        upload = await self.io.run(self._upload, bucket, key, upload_id)
        temp = await self._spool(body)
        return await self._store_part(upload.path, part_number, temp, body.checksums)

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
        upload = await self.io.run(self._upload, bucket, key, upload_id)
        fd, source = await self._open_async(src_bucket, src_key)
        try:
            first, last = src_range if src_range is not None else (0, source.size - 1)
            if src_range is not None and not 0 <= first <= last < source.size:
                raise be.InvalidRange(size=source.size, backend=self.name)
            temp = await self.io.checked("creating a temporary file", TempFile, self.tmp)
            await self._copy_into(temp, fd, first, last + 1)
        finally:
            os.close(fd)
        return await self._store_part(upload.path, part_number, temp, {})

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        base, components = await self.io.run(self._object_path, bucket, key)
        try:
            upload = await self.io.run(self._upload, bucket, key, upload_id)
        except be.NoSuchUpload:
            done = await self.io.run(self.completions.find, bucket, key, upload_id)
            if done is None:
                raise
            return done  # a retry of a completion that succeeded: the same answer
        chosen = await self.io.run(check_completion, upload, parts)
        records = [record for _, record in chosen]
        sums, kind = object_checksums(records, upload.object_meta(), parts)
        temp = await self.io.checked("creating a temporary file", lambda: TempFile(self.tmp, hash_md5=False))
        for path, record in chosen:
            try:
                fd = await self.io.run(os.open, path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                await self.io.run(temp.discard)
                raise be.InvalidPart(
                    detail="a part was replaced or aborted meanwhile", backend=self.name
                ) from None
            try:
                await self._copy_into(temp, fd, 0, record.size)
            finally:
                os.close(fd)
        meta = upload.object_meta().copy(checksums=sums, checksum_type=kind)
        stored = {**meta_to_dict(meta), PARTS_FIELD: part_layout(chosen)}
        record = Record(multipart_etag(records), time.time_ns(), stored, size=temp.size)
        await self._commit(temp, record, base, components, (bucket, key, cond))
        await self.io.checked(
            "recording a completion", self.completions.remember, bucket, upload_id, key, record, self.tmp
        )
        with contextlib.suppress(be.NoSuchUpload):
            await self.io.run(self.uploads.remove, upload)
        return record.object_info(key)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        upload = await self.io.run(self._upload, bucket, key, upload_id)
        await self.io.run(self.uploads.remove, upload)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        def page() -> PartsPage:
            upload = self._upload(bucket, key, upload_id)
            parts: list[PartInfo] = []
            for number, path in upload.parts():
                if number <= part_number_marker:
                    continue
                if len(parts) == max_parts:
                    return PartsPage(parts, True, parts[-1].part_number if parts else part_number_marker)
                with contextlib.suppress(FileNotFoundError, CorruptObject):
                    parts.append(read_record_at(path).part_info(number))
            return PartsPage(parts, False)

        return await self.io.run(page)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        def page() -> UploadsPage:
            self._bucket_dir(bucket)
            uploads = self.uploads.all_uploads(bucket, prefix)
            return uploads_page(uploads, prefix, delimiter, key_marker, upload_id_marker, max_uploads)

        return await self.io.run(page)


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset``; a file shorter than its record is a corrupt object."""
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            raise be.InternalBackendError(detail="object file shorter than its record")
        data += more
    return data
