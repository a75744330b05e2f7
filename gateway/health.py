"""Readiness: can the backend tree serve, and what an operator should know when it can only just.

The answer is read by anyone (probes hold no keys): a failure's detail says that a check failed, and the
log says which backend and why. A readiness answer is cached for ``READY_CACHE_SECONDS``: probes from several kubelets and load
balancers must not each hit every store. A ready tree may still be degraded (a mirror that stored writes
short of some members since the process started): that is said in the detail, and the metrics count it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from backends.base import Backend
from gateway.failures import short_reason
from gateway.metrics import walk

log = logging.getLogger("s3bridge.health")
#: What an unauthenticated probe is told when a backend failed: the store's own words go to the log
#: only (they may name hosts, buckets and accounts).
CHECK_FAILED = "a backend check failed (the gateway's log says which and why)"

#: Seconds one readiness check of the backends may take; a store slower than this is not ready.
READY_TIMEOUT = 2.0
#: Seconds a readiness answer is reused.
READY_CACHE_SECONDS = 2.0


def degraded(backend: Backend) -> str:
    """What the tree's mirrors wrote short of some members (their ``degraded`` count), or ''."""
    notes = []
    for node in walk(backend):
        count = getattr(node, "degraded", None)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            notes.append(f"{node.name}: {count} write(s) stored on fewer than all members")
    return "; ".join(sorted(notes))


class Readiness:
    def __init__(self, backend: Backend):
        self.backend = backend
        self._last: tuple[float, bool, str] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> tuple[bool, str]:
        """(ready, detail), checked at most once per cache period however many probes ask."""
        async with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < READY_CACHE_SECONDS:
                return self._last[1], self._last[2]
            try:
                await asyncio.wait_for(self.backend.check(), READY_TIMEOUT)
                result = (True, degraded(self.backend))
            except asyncio.TimeoutError:
                result = (False, f"backend check took longer than {READY_TIMEOUT:g}s")
            except Exception as exc:  # any failure means not ready; the log says which
                log.warning("not ready: %s", short_reason(exc))
                result = (False, CHECK_FAILED)
            self._last = (time.monotonic(), *result)
            return result
