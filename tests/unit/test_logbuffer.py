"""The access log's batching handler: the same bytes as a StreamHandler, written as whole lines under
PIPE_BUF, on a timer, and at exit."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.accesslog import AccessLog
from gateway.logbuffer import PIPE_BUF, DeferredFlushHandler, writes_bare_message
from gateway.logformat import JsonFormatter
from gateway.metrics import RequestRecord


class RecordingStream(io.StringIO):
    """A stream that remembers each write and each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def logger_with(handler: logging.Handler, name: str) -> logging.Logger:
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


MESSAGES = [f'{{"request_id":"{i:08X}","path":"/b/k{i}","note":"é✓"}}' for i in range(300)] + ["x" * 9000]


def test_same_bytes_as_a_stream_handler_in_whole_lines_under_pipe_buf() -> None:
    plain, batched = io.StringIO(), RecordingStream()
    a = logger_with(logging.StreamHandler(plain), "test.logbuffer.plain")
    handler = DeferredFlushHandler(batched, interval=60)
    b = logger_with(handler, "test.logbuffer.batched")
    for message in MESSAGES:
        a.info(message)
        b.info(message)
    handler.flush()
    assert batched.getvalue() == plain.getvalue()
    assert len(batched.writes) < len(MESSAGES) / 10  # batched, not one write per line
    for piece in batched.writes:
        assert piece.endswith("\n")
        assert len(piece.encode()) <= PIPE_BUF or piece.count("\n") == 1  # only a lone long line is longer


def test_lines_wait_at_most_the_interval() -> None:
    stream = RecordingStream()
    handler = DeferredFlushHandler(stream, interval=0.05)
    logger = logger_with(handler, "test.logbuffer.timer")
    logger.info("first")
    assert stream.getvalue() == ""  # not written on the request's path
    deadline = time.monotonic() + 5
    while stream.getvalue() != "first\n" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "first\n"
    logger.info("second")  # a later line is flushed by the same thread, again
    deadline = time.monotonic() + 5
    while stream.getvalue() != "first\nsecond\n" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "first\nsecond\n"


def test_a_process_that_exits_writes_its_last_lines(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import logging, sys
        from gateway.logbuffer import DeferredFlushHandler
        handler = DeferredFlushHandler(sys.stderr, interval=3600)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log = logging.getLogger("s3bridge.access")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        for i in range(5):
            log.info("line %d", i)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "".join(f"line {i}\n" for i in range(5))


def _records() -> list[RequestRecord]:
    return [
        RequestRecord(
            f"{i:08X}",
            "GetObject",
            "GET",
            f"/b/k{i}é",
            "b",
            "key",
            200 if i % 3 else 404,
            None if i % 3 else "NoSuchKey",
            "fs",
            0,
            4096,
            0.0012,
            "127.0.0.1",
            "agent ✓",
        )  # fmt: skip
        for i in range(200)
    ]


class _KeepAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return True


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def test_access_lines_without_a_record_are_the_lines_logging_writes() -> None:
    """The bare path (no LogRecord) writes byte for byte what handling a record writes: here the other
    logger takes the general path because a filter (one that keeps everything) sits on it."""
    streams = {"bare": io.StringIO(), "general": io.StringIO()}
    handlers = {name: DeferredFlushHandler(stream, interval=60) for name, stream in streams.items()}
    loggers = {name: logger_with(h, f"test.logbuffer.access.{name}") for name, h in handlers.items()}
    loggers["general"].addFilter(_KeepAll())
    for record in _records():
        AccessLog(loggers["bare"])(record)
        AccessLog(loggers["general"])(record)
    for handler in handlers.values():
        handler.flush()
    bare, general = (_timeless(streams[name].getvalue()) for name in ("bare", "general"))
    assert bare == general
    assert bare.count("\n") == 200


def _timeless(text: str) -> str:
    """The lines with each one's ``time`` (the moment it was made) spelled alike."""
    return re.sub(r'"time":"[^"]*"', '"time":"T"', text)


@pytest.mark.parametrize("where", ["logger", "handler"])
def test_a_filter_on_the_access_logger_or_its_handler_still_applies(where: str) -> None:
    stream = io.StringIO()
    handler = DeferredFlushHandler(stream, interval=60)
    logger = logger_with(handler, f"test.logbuffer.filtered.{where}")
    (logger if where == "logger" else handler).addFilter(_DropAll())
    AccessLog(logger)(_records()[0])
    handler.flush()
    assert stream.getvalue() == ""


def test_only_the_bare_message_format_skips_the_record() -> None:
    handler = DeferredFlushHandler(io.StringIO())
    assert writes_bare_message(handler)  # no formatter: logging's default, the bare message
    handler.setFormatter(logging.Formatter("%(message)s"))
    assert writes_bare_message(handler)
    for other in (
        logging.Formatter("%(asctime)s %(message)s"),
        logging.Formatter("{message}", style="{"),
        JsonFormatter(),
    ):
        handler.setFormatter(other)
        assert not writes_bare_message(handler)
    assert not writes_bare_message(logging.StreamHandler(io.StringIO()))


def test_json_format_access_lines_still_carry_the_fields() -> None:
    stream = io.StringIO()
    handler = DeferredFlushHandler(stream, interval=60)
    logger = logger_with(handler, "test.logbuffer.json")
    handler.setFormatter(JsonFormatter())
    AccessLog(logger)(_records()[1])
    handler.flush()
    assert '"request_id":"00000001"' in stream.getvalue().replace(" ", "")
    assert '"logger":"test.logbuffer.json"' in stream.getvalue().replace(" ", "")


def test_the_access_lines_time_reads_as_datetimes_isoformat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Formatted once per second: each instant, in the same second or a new one, reads as datetime wrote
    it, microsecond rounding included."""
    from gateway import accesslog

    base = 1_764_700_000 * 10**9
    for ns in (base, base + 123_456_789, base + 999_999_499, base + 999_999_500, base + 10**9 + 1_000, base):
        monkeypatch.setattr(accesslog.time, "time_ns", lambda ns=ns: ns)
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        expected = epoch + dt.timedelta(seconds=ns // 10**9, microseconds=(ns % 10**9) / 1000)
        assert accesslog.now_text() == expected.isoformat(timespec="milliseconds")
