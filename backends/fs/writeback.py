"""Starting the disk writes of a file while it is still being filled (Linux ``sync_file_range``).

With ``fsync: true`` an upload is acknowledged only after ``fdatasync``; the kernel otherwise starts
writing dirty pages back only after ~30 s or gigabytes of them, so the whole object would reach the
disk during that one final call (0.45 s for 256 MiB on this machine's disk) after the last byte came in.
Asking for write-out of each few MiB as they are written lets the disk work while the body is still
arriving, and the final ``fdatasync`` (still the guarantee) finds little left to do. Where the call is
missing (not Linux) it does nothing, and the final ``fdatasync`` does it all, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: Ask for write-out each time this many more bytes were written.
EVERY = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2  # start write-out of dirty pages not already under write-out; do not wait


def _load():  # type: ignore[no-untyped-def]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load()


class Writeback:
    """Tracks how much of one file was written and starts write-out every ``EVERY`` bytes."""

    def __init__(self, fd: int):
        self._fd = fd
        self._started = 0

    def written(self, size: int) -> None:
        """The file is now ``size`` bytes long."""
        if _sync_file_range is None or size - self._started < EVERY:
            return
        # Best effort: a failure here only leaves the work to the final fdatasync, which reports it.
        _sync_file_range(self._fd, self._started, size - self._started, _SYNC_FILE_RANGE_WRITE)
        self._started = size
