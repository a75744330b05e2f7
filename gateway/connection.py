"""The HTTP/1.1 connection under the S3 app: uvicorn's httptools protocol, bounded and answering in S3.

uvicorn alone lets a connection that sends nothing, or a header byte every few seconds, or a trickle
of body, stay open for ever, answers a request it cannot parse with a plain-text 400, and takes any
number of connections and requests. This protocol (``http="gateway.connection:S3Protocol"``) adds, per
worker process, with the settings under ``server:``:

- ``header_timeout``: a request's head (request line and headers) must arrive whole within this many
  seconds of its first byte, or of the connection opening; otherwise 400 RequestTimeout (nothing
  sent at all: the connection is just closed, as an idle keep-alive one is).
- ``body_idle_timeout`` and ``body_min_rate``: while the gateway reads a body, a silence this long, or
  fewer than ``body_min_rate`` bytes a second over such a stretch, drops the connection. The handler
  sees the client go away, so the upload is discarded and no object is written. Time when the gateway
  itself is not reading (back-pressure from a slow store, or before ``100 Continue`` is sent) is not
  counted against the client.
- ``max_connections``: a connection past it is answered 503 SlowDown at once and closed, so idle
  connections cannot exhaust the process's file descriptors.
- ``max_in_flight``: a request arriving while that many are being served is answered 503 SlowDown with
  ``Retry-After`` (health and metrics under ``/_s3bridge/`` always pass, so probes see the truth).
- A request the HTTP parser rejects gets S3's 400 BadRequest XML document, not uvicorn's text.

Memory: uvicorn stops reading a connection once 64 KiB of body wait unread, and the app reads in
pieces, so one upload holds at most a few MiB (see docs/configuration.md for the figure); at most
``max_in_flight`` uploads run at once. When the last request in flight ends, the C heap is trimmed
(``malloc_trim``), at most once a second, so a burst's buffers go back to the system.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway import bodyreceive, zerocopy
from gateway.bodyreceive import PieceReceive
from gateway.coalesce import CoalescingTransport
from gateway.errors import S3_ERRORS
from gateway.xmlio import error_document

log = logging.getLogger("s3bridge.connection")

#: Paths never refused for load: liveness, readiness and metrics must tell the truth under load.
INTERNAL_PREFIX = b"/_s3bridge/"
#: Seconds between two heap trims, and between two "refusing for load" warnings.
TRIM_INTERVAL = 1.0
WARN_INTERVAL = 10.0


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 20.0
    body_idle_timeout: float = 30.0
    body_min_rate: int = 1024
    max_connections: int = 1000
    max_in_flight: int = 128


#: Set by the app factory in each worker process (gateway.cli.create_app) from ``server:``.
LIMITS = Limits()


class Stats:
    """What the limits are doing in this worker process, for the metrics: the server's own sets of open
    connections and running request tasks (uvicorn shares them across its protocol instances), and how
    many times each limit refused."""

    def __init__(self) -> None:
        self._connections: set[Any] = set()
        self._tasks: set[Any] = set()
        self.refusals: dict[str, int] = {}

    def attach(self, connections: set[Any], tasks: set[Any]) -> None:
        self._connections, self._tasks = connections, tasks

    def open_connections(self) -> int:
        return len(self._connections)

    def in_flight(self) -> int:
        return len(self._tasks)

    def refused(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1


STATS = Stats()


def configure(limits: Limits) -> None:
    global LIMITS
    LIMITS = limits


def error_bytes(code: str, message: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 S3 error answer that closes the connection, for when no app can answer."""
    status, default_message = S3_ERRORS[code]
    rid = secrets.token_hex(8).upper()
    body = error_document(code, message or default_message, "", rid, {})
    head = {
        "Content-Type": "application/xml",
        "Content-Length": str(len(body)),
        "Connection": "close",
        "x-amz-request-id": rid,
        "x-amz-id-2": rid,
        "Server": "s3bridge",
        **(headers or {}),
    }
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"] + [f"{k}: {v}" for k, v in head.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_REASONS = {400: "Bad Request", 503: "Service Unavailable"}
_SLOW_DOWN_HEADERS = {"Retry-After": "1"}


async def slow_down(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI answer for a request past ``max_in_flight``: 503 SlowDown, and the connection closes."""
    status, message = S3_ERRORS["SlowDown"]
    rid = secrets.token_hex(8).upper()
    body = error_document("SlowDown", message, scope.get("path", ""), rid, {})
    headers = [
        (b"content-type", b"application/xml"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"retry-after", b"1"),
        (b"x-amz-request-id", rid.encode()),
        (b"x-amz-id-2", rid.encode()),
        (b"server", b"s3bridge"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class S3Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above and S3 answers for what it refuses."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = LIMITS
        STATS.attach(self.connections, self.tasks)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = False
        self._body_timer: asyncio.TimerHandle | None = None
        self._last_body = 0.0
        self._window_start = 0.0
        self._window_bytes = 0
        self._zerocopy = False

    # -- connections -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            _warn_load(f"max_connections ({self.limits.max_connections}) reached: refusing connections")
            STATS.refused("max_connections")
            transport.write(error_bytes("SlowDown", headers=_SLOW_DOWN_HEADERS))
            transport.close()
            return
        # Small writes of one loop turn in one syscall (a response's head and body): see gateway.coalesce.
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        self._zerocopy = zerocopy.usable(transport)
        self._head_bytes = False
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def send_400_response(self, msg: str) -> None:
        """The parser refused the bytes: S3's BadRequest document instead of uvicorn's text."""
        self._cancel_timers()
        STATS.refused("bad_request")
        self.transport.write(error_bytes("BadRequest"))
        self.transport.close()

    # -- the request head ------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = True
        if self._head_timer is None:  # a later request on a kept-alive connection: its own deadline
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            log.info("request head not received within %gs: closing", self.limits.header_timeout)
            STATS.refused("header_timeout")
            self.transport.write(error_bytes("RequestTimeout"))
        self.transport.close()

    def on_headers_complete(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_bytes = False
        over = len(self.tasks) >= self.limits.max_in_flight and not self.url.startswith(INTERNAL_PREFIX)
        if not over:
            super().on_headers_complete()
        else:
            _warn_load(f"max_in_flight ({self.limits.max_in_flight}) reached: answering SlowDown")
            STATS.refused("max_in_flight")
            app, self.app = self.app, slow_down
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        if self.cycle is not None:  # before its task runs (it may wait in the pipeline)
            bodyreceive.install(self.cycle)
        if self.cycle is not None and not self.cycle.response_complete and self._expects_body():
            now = time.monotonic()
            self._last_body = self._window_start = now
            self._window_bytes = 0
            self._body_timer = self.loop.call_later(self.limits.body_idle_timeout, self._body_check)

    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (
                name == b"content-length" and value.strip() not in (b"0", b"")
            ):
                return True
        return False

    # -- the request body ------------------------------------------------------------------------
    def on_body(self, body: bytes) -> None:
        """uvicorn's ``on_body``, the piece kept as it is for the app (``gateway.bodyreceive``)."""
        self._last_body = time.monotonic()
        self._window_bytes += len(body)
        cycle = self.cycle
        receive = cycle.receive
        if not isinstance(receive, PieceReceive):
            super().on_body(body)
            return
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        if receive.add(body):
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _body_check(self) -> None:
        """Drop a client that stopped sending, or sends slower than ``body_min_rate``."""
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None or not cycle.more_body or cycle.response_complete:
            return
        now = time.monotonic()
        idle = self.limits.body_idle_timeout
        waiting_on_us = self.flow.read_paused or cycle.waiting_for_100_continue
        if waiting_on_us:  # not the client's time: start counting afresh
            self._last_body = self._window_start = now
            self._window_bytes = 0
        elif now - self._last_body >= idle:
            return self._drop(f"no body bytes for {idle:g}s")
        elif now - self._window_start >= idle:
            rate = self._window_bytes / (now - self._window_start)
            if rate < self.limits.body_min_rate:
                return self._drop(f"body arriving at {rate:.0f} B/s, under {self.limits.body_min_rate} B/s")
            self._window_start, self._window_bytes = now, 0
        due = min(self._last_body + idle, self._window_start + idle) - now
        self._body_timer = self.loop.call_later(max(due, 0.05), self._body_check)

    def _drop(self, why: str) -> None:
        log.warning("dropping a slow upload from %s: %s", self.client, why)
        STATS.refused("slow_body")
        self.transport.close()  # the handler sees the client gone: the upload is discarded

    # -- memory back after a burst ---------------------------------------------------------------
    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if self._zerocopy:
            zerocopy.offer(cycle)  # before the task runs: it reads the scope and send
        before = set(self.tasks)
        super()._start_asgi_task(cycle, app)
        for task in self.tasks - before:  # after uvicorn's own callback, which forgets the task
            task.add_done_callback(self._maybe_trim)

    def _maybe_trim(self, _task: object) -> None:
        if not self.tasks:
            _TRIM.request(self.loop)


class _HeapTrim:
    """``malloc_trim(0)`` once the process is idle, at most once per ``TRIM_INTERVAL`` (glibc only)."""

    def __init__(self) -> None:
        self._trim: Any = None
        name = ctypes.util.find_library("c")
        if name:
            try:
                self._trim = ctypes.CDLL(name).malloc_trim
            except (OSError, AttributeError):  # not glibc: nothing to trim
                self._trim = None
        self._last = 0.0
        self._pending = False

    def request(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._trim is None or self._pending:
            return
        self._pending = True
        delay = max(0.0, self._last + TRIM_INTERVAL - time.monotonic())
        loop.call_later(delay, self._run)

    def _run(self) -> None:
        self._pending = False
        self._last = time.monotonic()
        self._trim(0)


_TRIM = _HeapTrim()
_last_warning: dict[str, float] = {}


def _warn_load(message: str) -> None:
    now = time.monotonic()
    if now - _last_warning.get(message, 0.0) >= WARN_INTERVAL:
        _last_warning[message] = now
        log.warning(message)
