"""Object bytes from a file straight into the client's socket (``os.sendfile``), for plain-HTTP answers.

A large GET through the ASGI body messages costs, per MiB, a ``pread`` into a fresh buffer (a copy and
its page faults), a thread hop, and a copy from that buffer into the socket; the buffers of every
connection sending at once stay alive until the kernel took them. ``sendfile`` moves the page-cache
pages into the socket without any of that: no object byte enters the process.

The server side is the ASGI extension ``http.response.zerocopysend`` (the ASGI spec's message: ``file``,
``offset``, ``count``, ``more_body``), which ``gateway.connection.S3Protocol`` offers in the scope of a
request on a connection without TLS (with TLS the bytes must pass through the encryption, so the
extension is simply not offered and the app streams as before). ``ZeroCopySend`` wraps the uvicorn
cycle's ``send``: every other message goes to uvicorn unchanged; a zerocopysend message is written
with ``sendfile`` once uvicorn's own buffer (the status line and headers) is flushed, and counted
against the Content-Length as a body message would be.

Safety of the descriptor: the socket is ``dup``-ed for the duration, so a connection closed meanwhile
(its descriptor number reused by another accept) can never receive these bytes; the ``sendfile`` calls
run on a small thread pool (a file page not in the cache is a disk read, which the loop never waits on)
and a cancelled sender waits for the call in flight before the descriptors are closed. Waiting for the
socket to take more is done on the loop (a writer callback on the duplicate), not in a thread, so a
client that stops reading holds no thread.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from backends.base import FileSpan
from backends.bridge import BlockingPool

#: The scope extension's name and its message's type.
EXTENSION = "http.response.zerocopysend"
#: At most this many bytes per pool call (more only if the socket takes them at once).
SLICE = 8 * 1024 * 1024
#: Seconds between two looks at the connection while the socket is full (a closed one ends the send).
RECHECK = 1.0
#: Read size when the span must go through uvicorn's writes after all (no descriptor left to dup).
COPY_CHUNK = 1024 * 1024
#: Threads shared by every connection's sendfile calls.
THREADS = 8

_pool: BlockingPool | None = None
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF)


def _threads() -> BlockingPool:
    global _pool
    if _pool is None:
        _pool = BlockingPool(THREADS, name="sendfile")
    return _pool


class FileFailed(ConnectionAbortedError):
    """The file could not give its span (it ended early, truncated under us, or a read failed): the
    connection is cut, as for any store failure after the head went out (``gateway.app`` logs it)."""


def _send_some(sock: int, fd: int, offset: int, count: int) -> int:
    """Bytes [offset, offset + count) of ``fd`` into ``sock`` until the socket is full: how many went
    (0: full at once). Raises ``ConnectionResetError`` when the client is gone, ``FileFailed`` when the
    file cannot give the bytes."""
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(sock, fd, offset + sent, count - sent)
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno in _GONE:
                raise ConnectionResetError(exc.errno, exc.strerror) from None
            raise FileFailed(f"sendfile: {exc}") from None
        if n == 0:
            raise FileFailed(f"file ended at {offset + sent}, {count - sent} bytes short")
        sent += n
    return sent


async def _writable(loop: asyncio.AbstractEventLoop, sock: int) -> None:
    """Until ``sock`` can take more, or ``RECHECK`` seconds passed."""
    ready: asyncio.Future[None] = loop.create_future()

    def woken() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(sock, woken)
    try:
        await asyncio.wait_for(ready, RECHECK)
    except asyncio.TimeoutError:
        pass
    finally:
        loop.remove_writer(sock)


async def send_file(transport: asyncio.Transport, sock: int, fd: int, offset: int, count: int) -> int:
    """``count`` bytes of ``fd`` from ``offset`` into ``sock`` (the transport's socket, duplicated; closed
    here); the bytes sent (fewer only when the connection closed). The transport's own buffer must be
    empty (see ``ZeroCopySend``)."""
    loop = asyncio.get_running_loop()
    sent = 0
    try:
        while sent < count and not transport.is_closing():
            want = min(SLICE, count - sent)
            try:
                n = await _threads().run_whole(_send_some, sock, fd, offset + sent, want)
            except ConnectionResetError:
                break
            sent += n
            if n < want:
                await _writable(loop, sock)
    finally:
        os.close(sock)
    return sent


Send = Callable[[dict[str, Any]], Awaitable[None]]


class ZeroCopySend:
    """The ``send`` of one uvicorn request cycle with the zerocopysend message added (see the module)."""

    def __init__(self, cycle: Any, send: Send):
        self._cycle = cycle
        self._send = send

    def __call__(self, message: dict[str, Any]) -> Awaitable[None]:
        # Any other message is the cycle's own send, its coroutine handed back as it is: no frame of
        # ours between the app and uvicorn for the start and body messages of every answer.
        if message["type"] != EXTENSION:
            return self._send(message)
        return self._zerocopy(message)

    async def _zerocopy(self, message: dict[str, Any]) -> None:
        cycle = self._cycle
        if not cycle.response_started or cycle.response_complete or cycle.chunked_encoding:
            raise RuntimeError("zerocopysend needs a started response with a Content-Length")
        file = message["file"]
        fd = file if isinstance(file, int) else file.fileno()
        offset = int(message.get("offset") or 0)
        count = message.get("count")
        if count is None:
            count = os.fstat(fd).st_size - offset
        if count > cycle.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        transport = cycle.transport
        if not await self._flushed(transport):
            return
        try:
            sock = os.dup(transport.get_extra_info("socket").fileno())
        except OSError:  # out of descriptors: the bytes go through uvicorn's own writes instead
            await self._copy(fd, offset, count, bool(message.get("more_body", False)))
            return
        sent = await send_file(transport, sock, fd, offset, count)
        cycle.expected_content_length -= sent
        if sent < count:
            transport.close()  # the client went away: nothing more can be said on this connection
            return
        if not message.get("more_body", False):
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _copy(self, fd: int, offset: int, count: int, more_body: bool) -> None:
        """The span as ordinary body messages, ``COPY_CHUNK`` bytes at a time read on the pool."""
        end = offset + count
        while offset < end:
            try:
                data = await _threads().run_whole(os.pread, fd, min(COPY_CHUNK, end - offset), offset)
            except OSError as exc:
                raise FileFailed(f"read: {exc}") from None
            if not data:
                raise FileFailed(f"file ended at {offset}, {end - offset} bytes short")
            offset += len(data)
            await self._send(
                {"type": "http.response.body", "body": data, "more_body": offset < end or more_body}
            )
        if count == 0 and not more_body:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _flushed(transport: asyncio.Transport) -> bool:
        """Wait until uvicorn's buffered bytes (the head) reached the socket: sendfile's bytes must
        follow them. False if the connection closed meanwhile."""
        pause = 0.001
        while transport.get_write_buffer_size() and not transport.is_closing():
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECHECK)
        return not transport.is_closing()


def usable(transport: asyncio.Transport) -> bool:
    """Whether a connection's requests may be offered the extension: plain TCP, its socket at hand
    (what a connection is for all its life, so asked once per connection, not per request)."""
    return transport.get_extra_info("sslcontext") is None and transport.get_extra_info("socket") is not None


def offer(cycle: Any) -> None:
    """Offer the extension to the request of ``cycle``, on a connection ``usable`` said yes to."""
    if cycle.scope.get("scheme") != "http":
        return
    cycle.scope.setdefault("extensions", {})[EXTENSION] = {}
    cycle.send = ZeroCopySend(cycle, cycle.send)


class FileSpanResponse(Response):
    """A GET answer whose body is a span of an open file (``backends.base.FileSpan``), sent with the
    zerocopysend extension (only made when the scope offers it); the body is closed afterwards."""

    def __init__(self, body: FileSpan, status_code: int, headers: dict[str, str]):
        self.status_code = status_code
        self.media_type = None
        self.background = None
        self._body = body
        self.init_headers(headers)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            fd, offset, count = self._body.file_span()
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            await send({"type": EXTENSION, "file": fd, "offset": offset, "count": count, "more_body": False})
        finally:
            await self._body.aclose()


def offered(scope: Any) -> bool:
    """The server takes zerocopysend messages for this request."""
    return EXTENSION in (scope.get("extensions") or {})
