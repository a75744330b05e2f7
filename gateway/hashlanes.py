"""Hashing a large upload's body off the event loop, in batches, one thread per hash lane.

MD5 runs at ~630 MiB/s and SHA-256 at ~1.6 GiB/s on one core here: done on the event loop a socket
read at a time, they cap a single upload near 200 MiB/s and leave the second core idle. hashlib
releases the GIL for buffers over 2 KiB, so each batch (``gateway.body.BATCH``) goes to a small pool,
one job per lane (MD5 in one, SHA-256 and the flexible checksums in another: see
``PayloadDecoder.defer_hashing``), while the loop receives the next batch and the store writes this
one. A lane never has two batches in flight, so its hash sees the bytes in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

#: Threads shared by every upload's lanes: two cores here, and a lane is CPU-bound while it runs.
THREADS = 4

_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="hash")
    return _pool


class HashLanes:
    """The lanes of one body: ``submit`` a batch to all of them, ``drain`` before trusting a digest."""

    def __init__(self, lanes: list[Callable[[bytes], None]]):
        self._lanes = lanes
        self._running: list[asyncio.Future[None]] = []

    async def submit(self, batch: bytes) -> None:
        """Wait for the previous batch's hashing, then start this one's (the caller holds on to
        ``batch`` meanwhile; the lanes only read it)."""
        await self.drain()
        loop = asyncio.get_running_loop()
        self._running = [loop.run_in_executor(_executor(), lane, batch) for lane in self._lanes]

    async def drain(self) -> None:
        """Every submitted batch hashed (a cancelled caller leaves the jobs to finish on their own)."""
        running, self._running = self._running, []
        for future in running:
            await future
