"""Blocking file I/O for the filesystem backend, off the event loop, and its failures as contract errors.

Every file call runs on the backend's ``BlockingPool`` (the bridge's, as SDK calls do; ``server.io_threads``
sizes it), and a cancelled caller waits for its call to end first, so a descriptor is never closed under
a read in flight. ``checked`` additionally turns the OSError of a write the backend itself makes into a
contract error, while exceptions from a client's body (which the backend also meets while writing)
propagate untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from typing import Any, TypeVar

from backends import errors as be
from backends.bridge import DEFAULT_THREADS, BlockingPool
from backends.fs.inline import InlineGate

T = TypeVar("T")
READ_CHUNK = 1024 * 1024


class FileIO:
    """The backend's thread pool for file calls, made on first use and released by ``close``."""

    def __init__(self, threads: int = DEFAULT_THREADS, name: str = "fs"):
        self.threads = threads
        self.name = name
        self._pool: BlockingPool | None = None
        self.inline = InlineGate()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = BlockingPool(self.threads, name=self.name)
        return await self._pool.run_whole(fn, *args)

    async def quick(self, fn: Callable[..., T], *args: Any) -> T:
        """``run`` for a short call (open, record, a small read): on the loop while such calls stay fast
        (``backends.fs.inline``), else on the pool. Only for calls that free what they hold on failure:
        one on the loop cannot be cancelled half-way, one on the pool is waited for (``run_whole``)."""
        if self.inline.open():
            return self.inline.call(fn, *args)
        return await self.run(fn, *args)

    async def checked(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """``run`` for our own file writes, whose OSErrors become contract errors (unlike a body's)."""
        try:
            return await self.run(fn, *args)
        except OSError as exc:
            raise os_error(exc, what) from exc

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()


def os_error(exc: OSError, what: str) -> be.BackendError:
    """A contract error for a filesystem failure (the path and the OS's words stay in ``detail``)."""
    if exc.errno == errno.ENAMETOOLONG:
        return be.KeyTooLong(detail=f"{what}: {exc.strerror}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return be.AccessDenied(detail=f"{what}: {exc}")
    return be.InternalBackendError(detail=f"{what}: {exc}")


class FileBody:
    """An object's bytes [start, end) read from an open descriptor, a chunk per pool call.

    The descriptor was opened before the response began, so a concurrent overwrite or delete does
    not change what this reader serves. It is closed at the end, on ``aclose()``, or when collected.
    """

    def __init__(self, io: FileIO, fd: int, start: int, end: int):
        self._io = io
        self._fd: int | None = fd
        self._pos = start
        self._end = end

    def __aiter__(self) -> FileBody:
        return self

    def file_span(self) -> tuple[int, int, int]:
        """The bytes not yet read, for a server that sends them from the file itself (``FileSpan``)."""
        if self._fd is None:
            raise RuntimeError("file_span of a closed body")
        return self._fd, self._pos, self._end - self._pos

    async def __anext__(self) -> bytes:
        if self._fd is None or self._pos >= self._end:
            await self.aclose()
            raise StopAsyncIteration
        try:
            chunk = await self._io.run(os.pread, self._fd, min(READ_CHUNK, self._end - self._pos), self._pos)
        except OSError as exc:
            await self.aclose()
            raise os_error(exc, "read") from None
        if not chunk:
            await self.aclose()
            raise be.InternalBackendError(detail="object file shorter than its record")
        self._pos += len(chunk)
        return chunk

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
