"""What ``lstat`` said of a directory's object files, reused while the directory says nothing changed.

A listing checks every object row of the index against the disk (the index may name files that are
gone, or that another write replaced): an ``lstat`` per key, the largest single cost of a page once the
rest is cached. But an object file is never changed in place: every write, retag, retention change and
delete is a rename, link or unlink in its directory, and each of those sets the directory's mtime and
ctime. So while a directory's (inode, mtime, ctime) are what they were, every name in it is the file it
was, and what ``lstat`` said of it still holds.

The catch is the timestamps' granularity (a tick of the kernel's coarse clock): a change in the same
tick as the one before it leaves the directory's times as they were. So a directory is trusted only
when its last change is older than ``SETTLED_NS`` by the clock read before its ``stat``; any change
after that read gets a later time, which is a different stamp. A directory changing all the time is
never trusted, and its files are ``lstat``-ed as before. The system clock stepped back by more than
``SETTLED_NS`` could, in principle, give a change the very nanosecond of the previous one; the index's
other limits (one host, see fs nameindex) apply too.

Per process and bounded (``LIMIT`` files in all, directories dropped least recently used first), so a
listing of a directory of a million keys keeps a page's worth, not a million.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict

#: How old a directory's last change must be for its stamp to be trusted: at least the filesystem's
#: timestamp granularity (the coarse clock's tick, 1-10 ms, on ext4, XFS, btrfs; one second on some older
#: or network filesystems, two on FAT). On a filesystem with coarser times the trust would not hold.
SETTLED_NS = 2_000_000_000
#: Files remembered in all, across directories.
LIMIT = 50_000

#: (inode, size, mtime) of a file, None for a name that is not there.
Stat = tuple[int, int, int] | None


class Known:
    """One directory's stamp and the files remembered under it; ``live`` until dropped for room."""

    __slots__ = ("files", "live", "stamp")

    def __init__(self, stamp: tuple[int, int, int]) -> None:
        self.stamp = stamp
        self.files: dict[str, Stat] = {}
        self.live = True


class DirStamps:
    """Per directory: its stamp, and what ``lstat`` said of each file asked for since it had it."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._dirs: OrderedDict[str, Known] = OrderedDict()
        self._count = 0

    def known(self, path: str) -> Known | None:
        """What is remembered of directory ``path`` (to read and add to), or None when it changed too
        recently to be trusted (or is gone)."""
        now = time.time_ns()
        try:
            st = os.stat(path)
        except OSError:
            return None
        if now - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLED_NS:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        with self._lock:
            held = self._dirs.get(path)
            if held is not None and held.stamp == stamp:
                self._dirs.move_to_end(path)
                return held
            if held is not None:
                self._drop(held)
            fresh = self._dirs[path] = Known(stamp)
            return fresh

    def lstat(self, known: Known | None, name: str, path: str) -> Stat:
        """(inode, size, mtime) of file ``path``, named ``name`` in a directory of which ``known`` is
        what is remembered: from it when it has the name."""
        if known is not None:
            found = known.files.get(name, False)
            if found is not False:
                return found  # type: ignore[return-value]
        try:
            st = os.lstat(path)
            seen: Stat = (st.st_ino, st.st_size, st.st_mtime_ns)
        except (FileNotFoundError, NotADirectoryError):
            seen = None
        if known is not None:
            self._remember(known, name, seen)
        return seen

    def _drop(self, known: Known) -> None:
        known.live = False
        self._count -= len(known.files)

    def _remember(self, known: Known, name: str, seen: Stat) -> None:
        with self._lock:
            while self._dirs and self._count >= self.limit:
                self._drop(self._dirs.popitem(last=False)[1])
            if known.live and name not in known.files:
                known.files[name] = seen
                self._count += 1
