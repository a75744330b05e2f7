"""The bucket settings the gateway evaluates (ACLs, policy, CORS, ...), read through a short cache.

The documents live in the store (see ``Backend.get_bucket_setting``), so every replica sees the same
ones; each process keeps what it read for ``ttl`` seconds, so a change made through another replica is
seen within that time, and one made through this process at once. The cache is bounded (least recently
used entries go first) and holds only small documents, never object data.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from backends import errors as be
from backends.base import Backend

#: Seconds a read document is trusted; the README states it as the propagation delay between replicas.
DEFAULT_TTL = 2.0
MAX_ENTRIES = 10_000


class BucketSettings:
    """Cached reads and write-through updates of the backend's bucket settings."""

    def __init__(
        self,
        backend: Backend,
        ttl: float = DEFAULT_TTL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ):
        self.backend = backend
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._cache: OrderedDict[tuple[str, str], tuple[float, bytes | None]] = OrderedDict()

    async def get(self, bucket: str, name: str) -> bytes | None:
        """The document, None when unset; NoSuchBucket and NotImplemented propagate (uncached)."""
        entry = self._cache.get((bucket, name))
        now = self._clock()
        if entry is not None and now - entry[0] < self.ttl:
            self._cache.move_to_end((bucket, name))
            return entry[1]
        document = await self.backend.get_bucket_setting(bucket, name)
        self._remember(bucket, name, document, now)
        return document

    async def get_if_supported(self, bucket: str, name: str) -> bytes | None:
        """``get``, with None for a backend that keeps no settings (so nothing was ever set there)."""
        try:
            return await self.get(bucket, name)
        except be.NotImplementedByBackend:
            return None

    async def put(self, bucket: str, name: str, document: bytes) -> None:
        self.forget(bucket, name)
        await self.backend.put_bucket_setting(bucket, name, document)
        self._remember(bucket, name, document, self._clock())

    async def delete(self, bucket: str, name: str) -> None:
        self.forget(bucket, name)
        await self.backend.delete_bucket_setting(bucket, name)
        self._remember(bucket, name, None, self._clock())

    def forget(self, bucket: str, name: str | None = None) -> None:
        """Drop cached documents of ``bucket`` (all of them when ``name`` is None): after the bucket was
        deleted or created, or a write failed halfway."""
        if name is not None:
            self._cache.pop((bucket, name), None)
            return
        for cached in [k for k in self._cache if k[0] == bucket]:
            del self._cache[cached]

    def _remember(self, bucket: str, name: str, document: bytes | None, now: float) -> None:
        self._cache[(bucket, name)] = (now, document)
        self._cache.move_to_end((bucket, name))
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
