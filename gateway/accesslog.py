"""Per-request measurement (ASGI middleware) and the access log: one JSON line per request.

The S3 app leaves what it learnt in ``scope["s3bridge"]`` (request id, operation, key id, bucket,
backend, status, S3 error code); this middleware adds what only the wire knows (body bytes in and out,
the status actually sent, duration, peer address) and hands one ``RequestRecord`` to its sinks.

What the log never holds: headers (Authorization, x-amz-security-token), the query string (a presigned
URL's signature and credential live there), secrets. The key id is the public half of a key pair.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from backends.errors import BackendError
from gateway.logbuffer import DeferredFlushHandler, writes_bare_message
from gateway.logformat import ACCESS_FIELDS
from gateway.metrics import RequestRecord

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Sink = Callable[[RequestRecord], None]

ACCESS_LOGGER = "s3bridge.access"
#: Error code for a response whose body failed after its headers were sent.
STREAM_FAILED = "ResponseStreamFailed"


class Measure:
    """Wraps the ASGI app; ``on_start``/``on_end`` bracket every HTTP request (in-flight gauge)."""

    def __init__(
        self,
        app: ASGIApp,
        sinks: list[Sink],
        *,
        on_start: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
        trust_forwarded: bool = False,
    ):
        self.app = app
        self.sinks = sinks
        self.on_start = on_start
        self.on_end = on_end
        self.trust_forwarded = trust_forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        counts = {"in": 0, "out": 0, "status": 0}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["in"] += len(message.get("body", b""))
            return message

        def counting_send(message: Message) -> Awaitable[None]:
            # Counts, then hands back the server's own send coroutine: no frame of ours awaits it.
            kind = message["type"]
            if kind == "http.response.start":
                counts["status"] = int(message["status"])
            elif kind == "http.response.body":
                counts["out"] += len(message.get("body", b""))
            elif kind == "http.response.zerocopysend":
                counts["out"] += int(message.get("count") or 0)
            return send(message)

        failure: BaseException | None = None
        if self.on_start:
            self.on_start()
        try:
            await self.app(scope, counting_receive, counting_send)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if self.on_end:
                self.on_end()
            record = self._record(scope, counts, time.monotonic() - started, failure)
            for sink in self.sinks:
                try:
                    sink(record)
                except Exception:  # a broken sink must not turn a served request into an error
                    logging.getLogger("s3bridge").exception("request record sink failed")

    def _record(
        self, scope: Scope, counts: dict[str, int], duration: float, failure: BaseException | None
    ) -> RequestRecord:
        facts: dict[str, Any] = scope.get("s3bridge") or {}
        status = counts["status"] or int(facts.get("status") or 0) or (500 if failure else 0)
        error = facts.get("error")
        backend_error = _backend_error(facts.get("backend_error"))
        if failure is not None:
            error = STREAM_FAILED if counts["status"] else "InternalError"
            if isinstance(failure, BackendError):
                backend_error = (failure.backend or facts.get("backend") or "", type(failure).__name__)
        headers = _headers(scope)
        remote = scope["client"][0] if scope.get("client") else None
        if self.trust_forwarded and "x-forwarded-for" in headers:
            remote = headers["x-forwarded-for"].split(",")[0].strip()
        return RequestRecord(
            request_id=facts.get("request_id"),
            operation=str(facts.get("operation") or "Unknown"),
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            bucket=facts.get("bucket"),
            access_key=facts.get("access_key"),
            status=status,
            error=error,
            backend=facts.get("backend"),
            bytes_in=counts["in"],
            bytes_out=counts["out"],
            duration=duration,
            remote=remote,
            user_agent=headers.get("user-agent"),
            backend_error=backend_error,
            internal=bool(facts.get("internal")),
        )


def _backend_error(value: object) -> tuple[str, str] | None:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (str(value[0] or ""), str(value[1]))
    return None


def _headers(scope: Scope) -> dict[str, str]:
    """The few request headers the record uses; never the Authorization or token headers."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name.lower() in _RECORD_HEADERS
    }


_RECORD_HEADERS = frozenset({b"user-agent", b"x-forwarded-for"})


def line(record: RequestRecord) -> str:
    """The access log line: JSON, one object, fixed field names (orjson: a tenth of json's cost;
    json only for text orjson refuses, such as a lone surrogate)."""
    return encode(fields(record))


def encode(entry: dict[str, Any]) -> str:
    """One JSON object on one line, with orjson; json only for what orjson refuses (a lone surrogate)."""
    try:
        return orjson.dumps(entry).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)


def now_text() -> str:
    """Now in UTC as ``datetime.now(timezone.utc).isoformat(timespec="milliseconds")`` writes it (the
    clock rounded to microseconds, then cut to milliseconds); the date and time of day are formatted once
    per second, which was a third of the line's fields."""
    global _second, _second_text
    whole, micros = divmod((time.time_ns() + 500) // 1000, 1_000_000)
    if whole != _second:
        _second_text = dt.datetime.fromtimestamp(whole, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        _second = whole
    return f"{_second_text}.{micros // 1000:03d}+00:00"


_second = -1
_second_text = ""


def fields(record: RequestRecord) -> dict[str, Any]:
    """The access log's fields, in their order (the JSON log format puts them at the top level)."""
    return {
        "time": now_text(),
        "request_id": record.request_id,
        "remote": record.remote,
        "method": record.method,
        "path": record.path,
        "operation": record.operation,
        "bucket": record.bucket,
        "key_id": record.access_key,
        "status": record.status,
        "error": record.error,
        "bytes_in": record.bytes_in,
        "bytes_out": record.bytes_out,
        "duration_ms": round(record.duration * 1000, 3),
        "backend": record.backend,
        "user_agent": record.user_agent,
    }


def access_logger() -> logging.Logger:
    """``s3bridge.access`` writing bare JSON lines to stderr, whatever the root logger's format/level,
    unless the process's logging configuration (``gateway.logformat``) gave it its handler already;
    the lines are written in batches (``gateway.logbuffer``), not with a system call each."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        handler = DeferredFlushHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class AccessLog:
    """The sink writing one line per S3 request (health probes and scrapes are left out)."""

    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or access_logger()

    def __call__(self, record: RequestRecord) -> None:
        logger = self.logger
        if not record.internal and logger.isEnabledFor(logging.INFO):
            entry = fields(record)
            text = encode(entry)
            handler = _bare_handler(logger)
            if handler is not None:
                # The text log format's plain case: the one handler writes the bare message, so it gets
                # just that, without a LogRecord made and passed through ``logging`` (a third of the
                # line's cost). A failure goes the general way below, which reports it as always.
                try:
                    handler.emit_bare(text)
                    return
                except Exception:
                    pass
            # What ``logger.info`` does, less its search of the stack for the caller's file and line
            # (a tenth of the line's cost), which no access log format shows.
            logger.handle(
                logger.makeRecord(
                    logger.name,
                    logging.INFO,
                    __file__,
                    0,
                    text,
                    (),
                    None,
                    extra={ACCESS_FIELDS: entry},
                )
            )


def _bare_handler(logger: logging.Logger) -> DeferredFlushHandler | None:
    """The logger's only handler, when handing it the bare line is all ``logger.handle`` would do for an
    INFO record: no filter on the logger, no propagation, one handler at INFO or below that writes the
    bare message (``logbuffer.writes_bare_message``). Checked per line: a reconfiguration applies at once."""
    if logger.filters or logger.propagate or len(logger.handlers) != 1:
        return None
    handler = logger.handlers[0]
    if handler.level > logging.INFO or not writes_bare_message(handler):
        return None
    return handler
