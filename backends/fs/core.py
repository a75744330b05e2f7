"""The fs backend's foundation: lifecycle, paths, writing and publishing, opening objects, buckets and
bucket settings (the object and multipart operations build on it: fs backend, fs multipartops)."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TypeVar

import anyio

from backends import errors as be
from backends.base import (
    Backend,
    BucketInfo,
    Capabilities,
    PutBody,
    WriteCondition,
    any_unique_etag,
    body_md5,
)
from backends.bridge import DEFAULT_THREADS
from backends.fs import versions as fs_versions
from backends.fs.bucketsettings import BucketSettingsFiles
from backends.fs.completions import Completions
from backends.fs.dirsync import DirSync
from backends.fs.format import CorruptObject, Record, TempFile, read_record
from backends.fs.io import READ_CHUNK, FileIO, os_error
from backends.fs.keylocks import KeyLocks, check_condition
from backends.fs.keys import check_bucket, key_components
from backends.fs.multipart import (
    UploadStore,
)
from backends.fs.tempdirs import ProcessTempDir
from backends.fs.treeindex import TreeIndex
from backends.fs.versionlisting import bucket_is_empty
from backends.fs.versions import KeyFiles

T = TypeVar("T")

WRITE_BATCH = 1024 * 1024
#: A GET of at most this many bytes is read whole in the call that opens the file: one thread hop and one
#: plain response instead of a stream. Larger ones stay a file span, which plain HTTP sends with
#: sendfile (gateway.zerocopy): cheaper from about this size on, and no buffer per connection.
WHOLE_READ = 256 * 1024
COPY_SLICE = 64 * 1024 * 1024
STATE_DIR = ".s3bridge"
CREATED_FILE = ".created"


def _nearest_existing(path: str) -> str:
    """``path`` or its closest ancestor that exists (blocking); a file in the way is reported as itself."""
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


class FsCore(Backend):
    """What every part of the fs backend stands on: its state, paths, the publishing rename, spooling
    and commit of uploads, opening objects, buckets and their settings documents."""

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

    def _publish(
        self,
        temp_path: str,
        base: str,
        components: list[str],
        indexed: bool = True,
        written: tuple[os.stat_result, bytes] | None = None,
    ) -> str:
        """Rename into place, making parent directories; retried if a delete prunes them meanwhile.
        Returns the directory the caller must fsync before acknowledging (outside any key lock).
        ``indexed``: a bucket's object, announced to the listing index first (under the key's lock);
        ``written``: the file's stat and record JSON when its writer knows them (``TempFile.written``),
        so the announcement need not read them back from the file."""
        for _ in range(10):
            parent = base
            try:
                announced = None
                if indexed:
                    parent = self.tree.make_parents(base, components)
                    announced = self.tree.announce_object(base, components, temp_path, written)
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
        """Stream a body into a temp file; on any failure the temp file goes and the error propagates.

        The file is made by the first batch's write. A body that ends before a batch's worth
        (``WRITE_BATCH``) is held as it is, already in memory, and written by ``_commit``'s one pool call
        with its record: a small PUT costs one thread hop instead of three. Held only when the body
        hashes its MD5 itself (the gateway's does) or asks for none: else the pool thread's write hashes it,
        as before. The ETag: one unique to this write for a body that asks no digest (``AnyUniqueEtag``:
        not one hash over every byte), else the MD5, the body's own when it computes one."""
        unique = any_unique_etag(body)
        md5 = None if unique else body_md5(body)
        temp = TempFile(self.tmp, md5_from=md5, unique_etag=unique, writeback=self.fsync, deferred=True)
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
                data = b"".join(batch)
                if temp.opened or (md5 is None and not unique):
                    await self.io.checked("writing a temporary file", temp.write, data)
                else:
                    temp.hold(data)
        except BaseException:
            if temp.opened:
                with anyio.CancelScope(shield=True):
                    await self.io.run(temp.discard)
            else:
                temp.discard()  # nothing on disk: only the held bytes to drop
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
                    published.append(self._publish(temp.path, base, components, written=temp.written))

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
        """The object's file and record. The bucket directory is not looked up first: an object found
        proves its bucket, so only a read that failed asks whether the bucket is there (and then answers
        NoSuchBucket, as the lookup first did, whatever else failed), one ``stat`` fewer for every read
        that succeeds."""
        components = key_components(key)
        base = os.path.join(self.root, check_bucket(bucket))
        try:
            return self._open_in(base, components, key, version_id)
        except (be.BackendError, OSError):
            self._bucket_dir(bucket)  # raises NoSuchBucket when there is no such bucket
            raise

    def _open_in(
        self, base: str, components: list[str], key: str, version_id: str | None
    ) -> tuple[int, Record]:
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
        return await self.io.quick(self._open, bucket, key, version_id)

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
