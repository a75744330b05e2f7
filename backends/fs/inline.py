"""When a small blocking file call may run on the event loop itself instead of hopping to a pool thread.

Opening an object file and reading its record (and a small object's bytes) is a handful of system calls,
~10-30 µs when the files are in the page cache, as the objects a server reads again and again are. The
hop to a pool thread and back costs more than that in CPU alone (~50 µs on a 2-core machine), and it was
the largest single cost of a small GET. But a call that meets a cold disk (or a slow network filesystem)
would stall every connection of the worker while it waits. So the gate watches each call it lets
through: one that made the thread read from a block device (the kernel's count of block inputs for the
thread, ``ru_inblock``, went up: the page cache did not hold what it read), or that took longer than
``slow`` of wall time while the thread went to sleep waiting on something (its count of voluntary
context switches, ``ru_nvcsw``, went up: a network filesystem's stall, which no block count shows),
sends every call to the pool for the next ``pause`` seconds, after which one is tried on the loop again.
A cold store thus costs the loop at most one slow call per pause, and a warm one never pays the hop.
Wall time alone would not do: on a busy machine a call of 30 µs is now and then descheduled (an
involuntary switch) or caught by a garbage collection for tens of milliseconds, which says nothing
about the files (measured here: 23 and 92 ms stalls with no block read, at load average 8).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: A call on the loop that slept on something and took longer than this (wall time) is slow.
SLOW_SECONDS = 0.02
#: How long calls go to the pool after a slow one.
PAUSE_SECONDS = 5.0


class InlineGate:
    """Runs a blocking call on the caller's thread while such calls stay fast; says when they do not."""

    def __init__(
        self,
        slow: float = SLOW_SECONDS,
        pause: float = PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        usage: Callable[[], tuple[int, int]] | None = None,
    ):
        self.slow = slow
        self.pause = pause
        self._clock = clock
        self._usage = usage or thread_usage
        self._closed_until = 0.0
        #: Calls that were slow (each closed the gate for a pause): what an operator would ask about.
        self.slow_calls = 0

    def open(self) -> bool:
        """May the next call run here?"""
        return self._clock() >= self._closed_until

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` here and now, watched: a slow one (raising or not) closes the gate for a pause."""
        reads, sleeps = self._usage()
        started = self._clock()
        try:
            return fn(*args)
        finally:
            ended = self._clock()
            reads_after, sleeps_after = self._usage()
            if reads_after != reads or (ended - started > self.slow and sleeps_after != sleeps):
                self.slow_calls += 1
                self._closed_until = ended + self.pause


def thread_usage() -> tuple[int, int]:
    """The calling thread's block-device reads and voluntary context switches so far (Linux counts
    both per thread; one ``getrusage``, ~1.5 µs)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_inblock, usage.ru_nvcsw
