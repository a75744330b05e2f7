"""The fallback's side of its outage journal: which keys are pending, and writing through the journal.

A mixin of Fallback (fallback.py), kept apart so the fallback's decision table reads on its own. It needs
the fallback's ``primary``, ``secondary``, ``journal``, ``reconciler`` and ``name``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from backends import errors as be
from backends.base import Backend
from backends.composite.journal import Journal, Op
from backends.composite.reconcile import Reconciler
from backends.composite.reconcile import unavailable as _unavailable
from backends.composite.streams import copy_across
from backends.served import mark

T = TypeVar("T")

log = logging.getLogger("s3bridge.fallback")


class Journalled:
    name: str
    primary: Backend
    secondary: Backend
    journal: Journal | None
    reconciler: Reconciler | None

    # -- the journal's figures, read by the metrics module -----------------------------------------
    @property
    def journal_replayed(self) -> int | None:
        return None if self.reconciler is None else self.reconciler.replayed

    @property
    def journal_depth(self) -> int | None:
        return None if self.reconciler is None else self.reconciler.depth

    @property
    def journal_oldest_age(self) -> float | None:
        return None if self.reconciler is None else self.reconciler.oldest_age

    def _fell_back(self, op: str, exc: BaseException) -> None:
        log.warning("%s: %s unavailable, using %s: %s", op, self.primary.name, self.secondary.name, exc)

    # -- the journal -------------------------------------------------------------------------------
    def _guard(self, bucket: str) -> None:
        """The journal's bucket belongs to the gateway: no client reads or writes it through us."""
        if self.journal is not None and bucket == self.journal.bucket:
            raise be.AccessDenied(detail="the fallback journal's bucket is reserved", backend=self.name)

    async def _pending(self, bucket: str, key: str) -> Op | None:
        """The latest op journalled on a key and not replayed yet: then the secondary alone is current.
        With the secondary unreachable nothing newer than the primary's copy can be read anyway."""
        if self.journal is None:
            return None
        try:
            return await self.journal.pending(bucket, key)
        except be.BackendError as exc:
            if not _unavailable(exc):
                raise
            log.warning(
                "journal on %s unreadable, trusting %s: %s", self.secondary.name, self.primary.name, exc
            )
            return None

    async def _record(self, bucket: str, key: str, op: Op, cause: be.BackendError | None) -> None:
        """Journal an op the secondary applied in the primary's place. Not journalled is not
        acknowledged: the client gets a retryable error (``cause``, the primary's, when it is one)."""
        if self.journal is None:
            return
        try:
            await self.journal.record(bucket, key, op)
        except be.BackendError as exc:
            log.warning("%s %s/%s: journal on %s failed: %s", op, bucket, key, self.secondary.name, exc)
            if cause is not None and _unavailable(cause):
                raise cause from exc
            raise be.BackendUnavailable(detail=f"journal: {exc}", backend=self.name) from exc

    async def _journalled(self, bucket: str, key: str, op: Op, call: Callable[[Backend], Awaitable[T]]) -> T:
        """A write of a key with entries not replayed yet: to the secondary and the journal, so that the
        replay, not this write, is what brings the primary up to date, in order."""
        result = await call(self.secondary)
        await self._record(bucket, key, op, None)
        mark(self.secondary.name)
        return result

    async def _settled(self, bucket: str, key: str) -> None:
        """A write the primary took for a key with entries pending: copy it over the secondary's and
        journal it, or the replay would put the secondary's older copy back over it."""
        if await self._pending(bucket, key):
            await copy_across(self.primary, bucket, key, self.secondary, bucket, key, None)
            await self._record(bucket, key, "put", None)
