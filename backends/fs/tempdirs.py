"""One temp directory per process under ``<root>/.s3bridge/tmp``, locked while the process lives.

Every temporary of the fs backend (object temp files, multipart staging, buckets being made or taken
away) lives in the private directory of the process that wrote it. The directory holds a lock file on
which its process keeps an exclusive ``flock`` for as long as it runs; the kernel drops the lock when the
process dies, however it dies (kill -9 included). So start-up can tell, at once and without clocks, which
directories belong to dead processes and remove them, while ``--workers N`` and replicas sharing one root
(on one host) never touch each other's live files.

A directory is made under a ``.new-`` name, locked, then renamed into place, so a sweeper never sees a
live directory whose lock is not yet held. A ``.new-`` directory left by a crash in that instant, and loose
entries left by versions before per-process directories, are removed once older than ``LOOSE_SECONDS``.

``flock`` is advisory and per host: replicas on different hosts sharing a network filesystem must not
rely on it (NFS emulates it with POSIX locks on Linux; other filesystems may not).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time

LOCK_NAME = ".lock"
PROCESS_PREFIX = "p-"
NEW_PREFIX = ".new-"
#: Loose leftovers (half-made process directories, an older version's files) older than this are dead.
LOOSE_SECONDS = 24 * 3600
#: A half-made process directory older than this was left by a crash between mkdir and rename.
NEW_SECONDS = 600


class ProcessTempDir:
    """This process's private temp directory under ``parent``, locked until ``release``."""

    def __init__(self, parent: str):
        self.parent = parent
        self.path = ""
        self._lock_fd: int | None = None

    @property
    def current(self) -> str:
        """The directory's path; using the backend before ``start`` (or after ``close``) is a bug."""
        if not self.path:
            raise RuntimeError(f"no process temp directory under {self.parent}: backend not started")
        return self.path

    def acquire(self) -> str:
        """Make and lock this process's directory after reclaiming the dead ones; its path (blocking)."""
        os.makedirs(self.parent, exist_ok=True)
        sweep(self.parent)
        token = f"{os.getpid()}-{secrets.token_hex(6)}"
        staging = os.path.join(self.parent, NEW_PREFIX + token)
        os.mkdir(staging)
        fd = os.open(os.path.join(staging, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and ours alone: never blocks
        self.path = os.path.join(self.parent, PROCESS_PREFIX + token)
        os.rename(staging, self.path)
        self._lock_fd = fd
        return self.path

    def release(self) -> None:
        """Remove the directory and drop the lock (clean shutdown; a crash leaves it to the next sweep)."""
        if self._lock_fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock_fd)
        self._lock_fd = None
        self.path = ""


def sweep(parent: str) -> list[str]:
    """Remove the directories of dead processes and old loose leftovers; the names removed."""
    removed = []
    now = time.time()
    for entry in os.scandir(parent):
        with contextlib.suppress(OSError):
            if entry.name.startswith(PROCESS_PREFIX) and entry.is_dir(follow_symlinks=False):
                if _reclaim(entry.path):
                    removed.append(entry.name)
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            limit = NEW_SECONDS if entry.name.startswith(NEW_PREFIX) else LOOSE_SECONDS
            if age > limit:
                _remove(entry.path)
                removed.append(entry.name)
    return removed


def _reclaim(path: str) -> bool:
    """Remove a process directory if no process holds its lock; True if it was removed."""
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:  # renamed into place only once locked: the lock file is always there
        shutil.rmtree(path, ignore_errors=True)
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its process is alive
        shutil.rmtree(path, ignore_errors=True)  # under the lock: no other sweeper races us
        return True
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)
