"""The access log's batching handler: the same bytes as a StreamHandler, written as whole lines under
PIPE_BUF, on a timer, and at exit."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gateway.logbuffer import PIPE_BUF, DeferredFlushHandler


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
