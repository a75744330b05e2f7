"""Upload bodies as the SDK wants them: blocking file objects of an exact, declared length.

``ExactReader`` hands the SDK thread at most the declared bytes and, before giving up the last of them,
confirms the client's body ended normally (a verifying body raises at its end, after the bytes): an
upload whose body fails or runs long or short never sends its final byte, so the store never commits it.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from typing import Any, Protocol

from backends.base import PutBody
from backends.bridge import BodyReadError, SyncReader


class BodyMismatch(BodyReadError):
    """The body's length differs from the one declared for it."""


class Source(Protocol):
    error: BaseException | None

    def read(self, size: int = -1, /) -> bytes: ...

    def drain_to_eof(self) -> bool: ...


def open_body(body: PutBody) -> SyncReader:
    """A blocking view of ``body``; call on the event loop, read from a pool thread."""
    return SyncReader(aiter(body), asyncio.get_running_loop())


class ExactReader(io.RawIOBase):
    def __init__(self, source: Source, size: int, *, final: bool = True):
        super().__init__()
        self.source = source
        self.size = size
        self.final = final
        self.sent = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        remaining = self.size - self.sent
        want = remaining if size is None or size < 0 else min(size, remaining)
        data = b""
        if want > 0:
            data = self.source.read(want)
            if not data:
                raise BodyMismatch(f"the body ended after {self.sent} of {self.size} declared bytes")
            self.sent += len(data)
        if self.sent == self.size and self.final and not self._checked:
            self._checked = True
            if not self.source.drain_to_eof():
                raise BodyMismatch(f"the body is longer than the {self.size} bytes declared")
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class Spooled:
    """A whole body in a temporary file (memory up to a threshold, disk beyond): its length is known."""

    def __init__(self, source: Source, memory: int):
        self.file = tempfile.SpooledTemporaryFile(max_size=memory)  # noqa: SIM115 - closed by the reader
        self.size = 0
        while True:
            piece = source.read(1024 * 1024)
            if not piece:
                break
            self.file.write(piece)
            self.size += len(piece)
        self.file.seek(0)
        self.error: BaseException | None = None

    def read(self, size: int = -1, /) -> bytes:
        return self.file.read(size)

    def drain_to_eof(self) -> bool:
        at_end = not self.file.read(1)
        self.file.close()
        return at_end
