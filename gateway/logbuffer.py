"""The access log's handler: the same lines as a ``StreamHandler``, without a write system call per line.

A ``StreamHandler`` flushes after every record, and stderr is line-buffered besides, so each access line
cost a ``write(2)`` on the request's path (~100 µs of a 4 KiB GET's ~700 in the profile of issue 15).
This handler keeps the formatted lines and writes them together: when they would pass ``PIPE_BUF``
(4,096 bytes), and otherwise at most ``FLUSH_INTERVAL`` seconds after the first one waiting, from a
background thread, and at exit (``logging.shutdown`` flushes every handler; the app's lifespan shutdown
does too).

Why whole lines of at most ``PIPE_BUF`` bytes per write: with ``--workers N`` every worker writes to the
same stderr, often a pipe (a container runtime, systemd), and the kernel keeps a pipe write whole only up
to ``PIPE_BUF`` bytes. A longer write could be split and another worker's bytes land inside a line. Each
write here is a run of complete lines under that size (a single longer line goes alone, as before).

What changes for a reader: an access line reaches the file up to ``FLUSH_INTERVAL`` seconds after its
request ended, and may land after a gateway log line written in that time. A process killed with SIGKILL
loses the lines of its last interval. The lines themselves are byte for byte what they were.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TextIO, TypeGuard

#: Seconds a line may wait in the buffer.
FLUSH_INTERVAL = 0.2
#: The largest write a pipe keeps whole (POSIX: at least 512; Linux: 4,096).
PIPE_BUF = 4096


class DeferredFlushHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """``logging.StreamHandler`` writing complete lines in batches: see the module's docstring."""

    def __init__(self, stream: TextIO | None = None, interval: float = FLUSH_INTERVAL):
        super().__init__(stream)
        self.interval = interval
        self._pending: list[str] = []
        self._size = 0
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Runs under the handler's lock (``Handler.handle``), as ``flush`` does."""
        try:
            self._add(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def emit_bare(self, message: str) -> None:
        """What ``handle`` of a record whose message is ``message`` writes when ``writes_bare_message``
        holds, without the record: the access log's caller builds none (``gateway.accesslog``). A failure
        is raised to the caller, who still holds what it needs to report it."""
        with self.lock:  # type: ignore[union-attr]
            self._add(message + self.terminator)

    def _add(self, text: str) -> None:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        if self._pending and self._size + size > PIPE_BUF:
            self._write_pending()
        self._pending.append(text)
        self._size += size
        if not self._due.is_set():
            self._due.set()
            self._ensure_flusher()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._due.clear()
            if self._pending:
                self._write_pending()

    def _write_pending(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        self.stream.write(text)
        if hasattr(self.stream, "flush"):
            self.stream.flush()

    def _ensure_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(target=self._run, name="access-log-flush", daemon=True)
            self._flusher.start()

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a broken stream: the next emit reports it through handleError
                self._due.clear()


def writes_bare_message(handler: logging.Handler) -> TypeGuard[DeferredFlushHandler]:
    """The handler writes a record as its bare message: a ``DeferredFlushHandler`` without filters whose
    formatter is ``logging``'s own with the format ``%(message)s`` (the access log's in the text log
    format), so ``emit_bare`` of the message is exactly what handling a record would write."""
    if type(handler) is not DeferredFlushHandler or handler.filters:
        return False
    formatter = handler.formatter
    if formatter is None:
        return True  # logging's default formatter: "%(message)s"
    return (
        type(formatter) is logging.Formatter
        and type(formatter._style) is logging.PercentStyle
        and formatter._fmt == "%(message)s"
    )


def flush_access_log(name: str) -> None:
    """Write out what the named logger's handlers hold (the app calls it at lifespan shutdown)."""
    for handler in logging.getLogger(name).handlers:
        handler.flush()
