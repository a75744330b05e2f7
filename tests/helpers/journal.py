"""Reading a fallback's outage journal as the shared secondary holds it, for the tests that wait for it
to drain after an outage."""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from backends.composite.journal import Journal
from backends.fs.backend import FsBackend
from tests.helpers.multi import metric
from tests.helpers.procs import ServerProcess


def journal_left(local: Path, prefix: str = "fb/") -> int:
    """Entries in the journal as the shared secondary holds it (not as a gauge last saw it)."""

    async def count() -> int:
        store = FsBackend(local, name="inspect", fsync=False)
        await store.start()
        try:
            journal = Journal(store, prefix=prefix)
            depth, _ = await journal.stats()
            return depth + len(await journal.orphans())
        finally:
            await store.close()

    return anyio.run(count)


def wait_drained(local: Path, gateways: list[ServerProcess], timeout: float = 90) -> None:
    """Bounded wait for the journal to be empty, and for every gateway's gauge to have seen it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal_left(local) == 0 and all(
            metric(g, "s3bridge_fallback_journal_depth", backend="fb") == 0 for g in gateways
        ):
            return
        time.sleep(0.3)
    depths = [metric(g, "s3bridge_fallback_journal_depth", backend="fb") for g in gateways]
    raise AssertionError(f"journal not drained: {journal_left(local)} left, gauges {depths}")
