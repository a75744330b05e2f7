"""Directory fsyncs shared between concurrent writers (group commit), for the filesystem backend.

A rename is durable once its directory has been fsynced *after* it. When sixteen uploads land in one
directory at once, sixteen fsyncs of that directory in a row are redundant: one fsync that starts after
all sixteen renames covers them all. So each caller takes a ticket (the number of the next fsync to
start on that directory) and returns once an fsync numbered at least that has completed; if none is
running it runs one itself, otherwise it waits for the running one to end and then, unless another
caller already started a later one, starts the next. Every caller still returns only after an fsync
that began after its own rename: the guarantee of one fsync per call, for less disk time.

Blocking: call from a worker thread. Per process (another worker process simply fsyncs on its own).
A failed fsync is not shared: its waiters retry with an fsync of their own, and see its error if that
fails too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass


@dataclass
class _Dir:
    cond: threading.Condition
    #: Number the next fsync to start gets; one that completes with number n covers tickets <= n.
    next_gen: int = 1
    done: int = 0
    running: bool = False
    users: int = 0


class DirSync:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dirs: dict[str, _Dir] = {}

    def sync(self, path: str) -> None:
        """Return once ``path`` was fsynced by a call that began after this one did."""
        with self._lock:
            state = self._dirs.get(path)
            if state is None:
                state = self._dirs[path] = _Dir(threading.Condition(self._lock))
            state.users += 1
            ticket = state.next_gen
            try:
                while state.done < ticket:
                    if state.running:
                        state.cond.wait()
                        continue
                    gen = state.next_gen
                    state.next_gen += 1
                    state.running = True
                    self._lock.release()
                    try:
                        _fsync_dir(path)
                    except BaseException:
                        self._lock.acquire()
                        state.running = False
                        state.cond.notify_all()
                        raise
                    self._lock.acquire()
                    state.running = False
                    state.done = max(state.done, gen)
                    state.cond.notify_all()
            finally:
                state.users -= 1
                if state.users == 0 and not state.running:
                    del self._dirs[path]


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return  # pruned by a concurrent delete: nothing of ours left to make durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
