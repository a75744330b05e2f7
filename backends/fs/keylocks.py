"""Per-key write locks shared by every process on one root: ``flock`` on striped lock files.

A conditional write (``If-None-Match: *``, ``If-Match``) reads the current object and publishes the new
one as one step: the lock is held across the check and the final rename. Every object publish takes it,
conditional or not, so an unconditional write cannot land between a conditional writer's check and its
rename. An in-process lock would not do: ``--workers N`` and replicas on one host share the root.

The lock files are ``<root>/.s3bridge/locks/<nn>``, a fixed set of stripes chosen by a hash of (bucket,
key), made on first use and never removed: no file per key piles up, and two keys sharing a stripe only
wait for each other for the span of a rename. Each holder opens its own descriptor, so threads of one
process exclude each other as processes do. ``flock`` is per host (see fs tempdirs for shared roots).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator

from backends import errors as be
from backends.base import WriteCondition
from backends.fs.format import CorruptObject, read_record_at

STRIPES = 1024


class KeyLocks:
    def __init__(self, locks_dir: str, stripes: int = STRIPES):
        self.locks_dir = locks_dir
        self.stripes = stripes

    def path(self, bucket: str, key: str) -> str:
        digest = hashlib.blake2b(f"{bucket}/{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return os.path.join(self.locks_dir, f"{int.from_bytes(digest, 'big') % self.stripes:04d}")

    @contextlib.contextmanager
    def hold(self, bucket: str, key: str) -> Iterator[None]:
        """Hold the key's lock (blocking; call from a worker thread)."""
        path = self.path(bucket, key)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            os.makedirs(self.locks_dir, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the only descriptor of this open file drops the lock


def check_condition(cond: WriteCondition, path: str, backend: str) -> None:
    """Raise when ``cond`` does not hold for the object file at ``path`` (blocking; call under its lock)."""
    try:
        current: str | None = read_record_at(path).etag
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        current = None
    except CorruptObject as exc:
        raise be.InternalBackendError(detail=f"unreadable object file: {exc}", backend=backend) from None
    try:
        cond.check(current)
    except be.BackendError as exc:
        exc.backend = backend
        raise
