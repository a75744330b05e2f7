"""``s3bridge reconcile``: replay every fallback journal into its primary now, once, and report.

For operators: after an outage, to drain the journal without waiting for the gateways' background
reconcilers (or with them turned off, ``journal.reconcile_interval: 0``). It takes the same lease as the
gateways, so it never replays alongside one of them; exit status 0 when every journal is empty, 1 when
entries remain (the primary is still down, another replica holds the lease, or an entry cannot be
replayed: the log says which).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from backends import errors as be
from backends.base import Backend
from backends.composite.fallback import Fallback
from backends.composite.forwarding import close_members, start_members
from gateway.config import load
from gateway.metrics import walk


def run(config: Path | None, data_dir: Path | None) -> int:
    from gateway.assemble import build_root

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    return asyncio.run(drain_all(build_root(load(config, data_dir=data_dir))))


async def drain_all(root: Backend) -> int:
    fallbacks = [n for n in walk(root) if isinstance(n, Fallback) and n.reconciler is not None]
    if not fallbacks:
        print("no fallback backend with a journal is configured")
        return 0
    status = 0
    for fb in fallbacks:
        if not await drain_one(fb):
            status = 1
    return status


async def drain_one(fb: Fallback) -> bool:
    """Replay ``fb``'s journal; True when it is empty afterwards."""
    reconciler = fb.reconciler
    if reconciler is None:  # the caller lists only fallbacks with a journal
        print(f"{fb.name}: no journal")
        return True
    await start_members(fb.members)
    try:
        await reconciler.refresh()
        if reconciler.depth and not await reconciler.lease.acquire():
            print(f"{fb.name}: another replica holds the journal lease; {reconciler.depth} entries left")
            return False
        done = await reconciler.drain()
        await reconciler.refresh()
        print(f"{fb.name}: replayed {done} entries, {reconciler.depth} left")
        return reconciler.depth == 0
    except be.BackendError as exc:
        print(f"{fb.name}: {exc}")
        return False
    finally:
        await reconciler.stop()
        await close_members(fb.members)
