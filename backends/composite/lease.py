"""The journal's lease: which gateway replica replays the fallback's journal, one at a time.

The lease is one object, ``<prefix>lease``, in the journal's bucket on the secondary, and every change
of it is a conditional write the store decides atomically (see WriteCondition):

- **take** a free lease: create it with ``If-None-Match: *``; of replicas racing, one wins;
- **renew** it: rewrite it with ``If-Match: <the ETag of our last write>``; it fails (and the lease is
  lost) when anyone else wrote it since;
- **take over** a lease that expired (its holder died or stalled) or was released: rewrite it with
  ``If-Match: <the ETag of the expired one>``, so of replicas racing to take over, one wins.

Each write carries a fresh random token, so no two writes of the lease share an ETag: a holder that
stalled past ``ttl`` cannot renew over its successor's write. A lease is live while its store timestamp
(last modified) is younger than ``ttl`` by our clock; its holder renews it once a third of that is spent
and counts on it for ``ttl / 2`` after starting a write. Releasing rewrites it (If-Match ours) marked
``released``, which any replica may take over at once: the contract has no conditional delete, and a
plain delete could remove a successor's lease. Limits: clocks (the store's, the replicas') must agree
to well within ``ttl``; a holder that stalls longer than ``ttl`` in the middle of one entry may overlap
its successor, which replays the same state again (replay is idempotent).

A secondary that cannot decide these conditions (NotImplemented: OBS, a mirror; OSS has no If-Match)
keeps the lease of claims (``ClaimLease``), built from a PUT and a strongly consistent listing.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Callable

from backends import errors as be
from backends.base import ObjectInfo, WriteCondition
from backends.composite.journal import Journal

log = logging.getLogger("s3bridge.fallback")

CREATE = WriteCondition(if_none_match_star=True)
HOLDER = "holder"
RELEASED = "released"


class ClaimLease:
    """The lease for a store without conditional writes: a replica writes its claim
    ``<prefix>lease/<holder>`` and lists the claims; a newcomer holds the lease only when it sees no other
    live claim (two newcomers that see each other both withdraw and try again later), and a holder keeps it
    by rewriting its claim before it expires. Claims older than ``ttl`` (of a replica that died) are
    deleted by whoever sees them. This needs a store whose listings show every PUT that completed before
    them (S3 since 2020, MinIO, the fs backend)."""

    def __init__(self, journal: Journal, ttl: float, holder: str, clock: Callable[[], float]):
        self.journal = journal
        self.ttl = ttl
        self.holder = holder
        self._clock = clock

    @property
    def _claim(self) -> str:
        return f"{self.journal.prefix}lease/{self.holder}"

    async def acquire(self, holding: bool) -> bool:
        await self.journal.write(self._claim, self.holder.encode())
        others = False
        async for name, stamp in self.journal.names(f"{self.journal.prefix}lease/"):
            if name == self._claim:
                continue
            if self._clock() - stamp < self.ttl:
                others = True
            else:  # its holder died or stalled: nobody may wait on it forever
                await self.journal.discard(name)
        if others and not holding:
            await self.journal.discard(self._claim)
            return False
        return True

    async def release(self) -> None:
        await self.journal.discard(self._claim)


class Lease:
    def __init__(self, journal: Journal, ttl: float = 30.0, *, clock: Callable[[], float] = time.time):
        self.journal = journal
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}-{secrets.token_hex(6)}"
        self._clock = clock
        self._renewed: float | None = None
        self._etag: str | None = None  # of our last write of the lease, while we hold it
        self._claims: ClaimLease | None = None  # once the store refused a conditional write

    @property
    def name(self) -> str:
        return f"{self.journal.prefix}lease"

    @property
    def held(self) -> bool:
        return self._renewed is not None and self._clock() - self._renewed < self.ttl / 2

    async def _write(self, cond: WriteCondition, state: str = HOLDER) -> ObjectInfo:
        token = secrets.token_hex(8)  # every write its own ETag
        return await self.journal.write(
            self.name, f"{self.holder} {token}".encode(), cond, {"state": state, "holder": self.holder}
        )

    async def _try(self, cond: WriteCondition) -> bool:
        """One conditional write of the lease: True when it landed (we hold it), False when another
        replica's write decided otherwise."""
        try:
            self._etag = (await self._write(cond)).etag
        except (be.PreconditionFailed, be.ConditionalRequestConflict, be.NoSuchKey):
            self._etag = None
            return False
        return True

    async def _take(self) -> bool:
        """Take the lease if it is free, expired or released."""
        try:
            current = await self.journal.store.head_object(self.journal.bucket, self.name)
        except (be.NoSuchKey, be.NoSuchBucket):
            return await self._try(CREATE)
        live = self._clock() - current.last_modified.timestamp() < self.ttl
        if live and current.meta.user.get("state") != RELEASED:
            return False
        return await self._try(WriteCondition(if_match=current.etag))

    async def acquire(self) -> bool:
        """Take or renew the lease; True when this replica holds it for at least ``ttl / 2`` more."""
        holding = self.held
        started = self._clock()
        if self._claims is not None:
            won = await self._claims.acquire(holding)
        else:
            try:
                won = await self._try(WriteCondition(if_match=self._etag)) if self._etag else False
                won = won or await self._take()
            except be.NotImplementedByBackend as exc:
                log.warning("journal lease: %s; holding it by claims instead", exc)
                self._claims = ClaimLease(self.journal, self.ttl, self.holder, self._clock)
                won = await self._claims.acquire(holding)
        self._renewed = started if won else None
        return won

    async def keep(self) -> bool:
        """Renew the lease when a third of its time is spent; False when it was lost."""
        if self._renewed is not None and self._clock() - self._renewed < self.ttl / 3:
            return True
        return await self.acquire()

    async def release(self) -> None:
        if self._renewed is None:
            return
        self._renewed = None
        if self._claims is not None:
            await self._claims.release()
            return
        etag, self._etag = self._etag, None
        if etag is not None:
            try:
                await self._write(WriteCondition(if_match=etag), RELEASED)
            except (be.PreconditionFailed, be.ConditionalRequestConflict, be.NoSuchKey):
                pass  # taken over already: it is not ours to release
