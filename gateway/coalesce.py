"""One socket write per small response instead of two: the head and the body leave together.

uvicorn writes a response's head as soon as the app sends ``http.response.start`` and its body at the
next message, each with its own ``send(2)``. On loopback (and behind a local proxy or sidecar) each send
also runs the receiver's TCP input and wakes it, so for a 4 KiB GET the two sends were a fifth to a
third of the worker's CPU (py-spy, ``RequestResponseCycle.send``), more with ``--workers 2`` where the
wake-up crosses CPUs. ``CoalescingTransport`` holds a small write until the end of the current event
loop iteration (``call_soon``); writes made before then join it and go out as one ``writelines``
(uvloop: one ``writev``, no copy). So a head followed at once by its body is one syscall, while a head
whose body takes a store round trip still goes out alone, one loop turn later.

Bounded: a write that brings the held bytes to ``HOLD_MAX`` or more goes out at once with what was
held (so a large body never waits and is never copied), and ``close`` sends what is held before closing.
Everything else is the wrapped transport's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Writes smaller than this may be held for the rest of the loop iteration.
HOLD_MAX = 64 * 1024


class CoalescingTransport:
    """An ``asyncio.Transport`` whose small writes within one loop iteration leave in one syscall."""

    __slots__ = ("_transport", "_loop", "_held", "_held_size", "_scheduled")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: list[bytes | bytearray | memoryview] = []
        self._held_size = 0
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._held.append(data)
        self._held_size += len(data)
        if self._held_size >= HOLD_MAX:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _scheduled_flush(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Send what is held now (in order, ahead of anything written later)."""
        if not self._held:
            return
        held, self._held, self._held_size = self._held, [], 0
        if self._transport.is_closing():
            return  # the connection is gone: the bytes have nowhere to go, as a direct write's
        if len(held) == 1:
            self._transport.write(held[0])
        else:
            self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held, self._held_size = [], 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._held_size + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        """Everything else (``is_closing``, ``get_extra_info``, reading control, ...) as it is."""
        return getattr(self._transport, name)
