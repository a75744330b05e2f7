"""Replaying the fallback's journal to the primary once it is back, one replica at a time.

Replay of an entry makes the primary's copy of the entry's key match the secondary's copy as it is now:
the object is streamed across (backends.composite.streams), or deleted on the primary when the
secondary no longer has it. The secondary holds the latest acknowledged state of every journalled key
(while a key has entries, the fallback writes it only there), so replay is idempotent, replays of one
key commute, and an entry is removed only after the primary holds what it stands for. A bucket created
during the outage (on the secondary only) is created on the primary first.

Only the replica holding the lease (lease.py: one lease object in the secondary, taken, renewed and
taken over by conditional writes the store decides atomically) replays.
"""

from __future__ import annotations

import asyncio
import logging

from backends import errors as be
from backends.base import Backend
from backends.composite.journal import Journal
from backends.composite.lease import Lease
from backends.composite.streams import copy_across

log = logging.getLogger("s3bridge.fallback")


def unavailable(exc: BaseException) -> bool:
    """The store cannot serve us, whatever the request: the case for the other store."""
    return isinstance(exc, be.BackendError) and (exc.retryable or isinstance(exc, be.AccessDenied))


class Reconciler:
    """Drains ``journal`` (kept on ``secondary``) into ``primary``; counts what it did for metrics."""

    def __init__(
        self, primary: Backend, secondary: Backend, journal: Journal, lease: Lease, interval: float = 2.0
    ):
        self.primary = primary
        self.secondary = secondary
        self.journal = journal
        self.lease = lease
        self.interval = interval
        #: Entries replayed to the primary by this replica (a counter).
        self.replayed = 0
        #: Entries in the journal, and the age in seconds of the oldest, at the last look (gauges).
        self.depth = 0
        self.oldest_age = 0.0
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="s3bridge-reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            await self.lease.release()
        except be.BackendError as exc:
            log.warning("reconcile: could not release the journal lease: %s", exc)

    async def _run(self) -> None:
        while True:
            try:
                await self.pass_once()
            except be.BackendError as exc:
                log.warning("reconcile: %s", exc)
            except Exception:  # a bug must not end reconciliation for the life of the process
                log.exception("reconcile: pass failed")
            await asyncio.sleep(self.interval)

    # -- one pass ----------------------------------------------------------------------------------
    async def refresh(self) -> None:
        depth, oldest = await self.journal.stats()
        self.depth, self.oldest_age = depth, oldest or 0.0

    async def pass_once(self) -> int:
        """Replay what the journal holds if the lease is ours; the number of entries replayed."""
        await self.refresh()
        if not self.depth and not await self.journal.orphans():
            return 0
        if not await self.lease.acquire():
            return 0
        try:
            done = await self.drain()
        finally:
            await self.refresh()
        return done

    async def drain(self) -> int:
        """Replay entries oldest first until the log is empty, the primary fails, or the lease is lost."""
        done = 0
        stuck: set[str] = set()
        while True:
            batch = [e for e in await self.journal.entries(100 + len(stuck)) if e.id not in stuck]
            if not batch:
                break
            for entry in batch:
                if not await self.lease.keep():
                    return done
                try:
                    await self.replay(entry.bucket, entry.key)
                except be.BackendError as exc:
                    if unavailable(exc):
                        log.warning("reconcile: the primary is not back yet: %s", exc)
                        return done
                    # It stays journalled, so reads keep coming from the secondary; retried next pass.
                    log.error("reconcile: cannot replay %s/%s: %s", entry.bucket, entry.key, exc)
                    stuck.add(entry.id)
                    continue
                await self.journal.remove(entry)
                self.replayed += 1
                done += 1
        if not stuck:
            for orphan in await self.journal.orphans():
                await self.journal.remove(orphan)
        return done

    async def replay(self, bucket: str, key: str) -> None:
        """Make the primary's ``bucket/key`` what the secondary's is now (idempotent)."""
        for attempt in (1, 2):
            try:
                await copy_across(self.secondary, bucket, key, self.primary, bucket, key, None)
                return
            except be.NoSuchKey:
                break  # deleted on the secondary: delete it on the primary too
            except be.NoSuchBucket:
                if not await self._has_bucket(self.secondary, bucket):
                    break
                if attempt == 2:
                    raise
                await self._create_on_primary(bucket)
        try:
            await self.primary.delete_object(bucket, key)
        except be.NoSuchBucket:
            pass

    @staticmethod
    async def _has_bucket(store: Backend, bucket: str) -> bool:
        try:
            await store.head_bucket(bucket)
        except be.NoSuchBucket:
            return False
        return True

    async def _create_on_primary(self, bucket: str) -> None:
        try:
            await self.primary.create_bucket(bucket)
        except (be.BucketAlreadyOwnedByYou, be.BucketAlreadyExists):
            pass
