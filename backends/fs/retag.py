"""Replacing an fs object's tags: a new record over the same data, published by one rename.

The tags live in the object file's record (see fs_format), next to the data, so a reader always sees
data and tags of one and the same write. Rewriting the record in place cannot be atomic (a reader could
meet a half-written footer), so the new file is the old data, cloned, plus the new record, renamed over
the old one under the key's lock: a concurrent PUT either lands before (and its object is retagged) or
after (and replaces the object with its own tags), never in between. The clone is
``os.copy_file_range``, which shares extents on filesystems that can (btrfs, XFS) and copies in the kernel
elsewhere; the data never passes through the process.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from backends import errors as be
from backends.fs.format import CorruptObject, Record, TempFile, read_record

#: Bytes per copy_file_range call.
CLONE_SLICE = 64 * 1024 * 1024


def clone_range(temp: TempFile, fd: int, start: int, end: int) -> None:
    """Append bytes [start, end) of ``fd`` to ``temp`` in the kernel; a plain copy where it cannot."""
    out = temp.fileno()
    pos = start
    while pos < end:
        try:
            done = os.copy_file_range(fd, out, min(CLONE_SLICE, end - pos), pos)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            temp.copy_from(fd, pos, end, 1024 * 1024)
            return
        if done == 0:
            raise CorruptObject("source file shorter than its record says")
        temp.size += done
        pos += done


def retag(
    path: str,
    tmp_dir: str,
    tags: dict[str, str],
    *,
    fsync: bool,
    publish: Callable[[str], None],
    key: str,
    backend: str,
) -> None:
    """Publish the object at ``path`` with ``tags`` (blocking; call under the key's lock). ``publish``
    renames the finished temp file over ``path``. NoSuchKey when there is no object."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise be.NoSuchKey(detail=key, backend=backend) from None
    try:
        try:
            record = read_record(fd)
        except CorruptObject as exc:
            raise be.InternalBackendError(detail=f"unreadable object file: {exc}", backend=backend) from None
        temp = TempFile(tmp_dir, hash_md5=False)
        try:
            clone_range(temp, fd, 0, record.size)
            meta = {**record.meta, "tags": dict(tags)}
            # The ETag and Last-Modified describe the data, which did not change; S3 keeps both too.
            temp.finish(Record(record.etag, record.mtime_ns, meta, size=record.size), fsync)
            publish(temp.path)
        except BaseException:
            temp.discard()
            raise
    finally:
        os.close(fd)
