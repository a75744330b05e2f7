"""The contract suite over the composites, each over real filesystem backends in fresh directories.

The router runs in prefix mode over two stores: client buckets split between them by name, every key
stored under a prefix, so copies between two client buckets are sometimes server-side and sometimes
streamed across stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from backends.base import Backend
from backends.composite.fallback import Fallback
from backends.composite.journal import Journal
from backends.composite.mirror import Mirror
from backends.composite.retry import Retry
from backends.composite.router import Route, Router
from backends.fs.backend import FsBackend
from tests.contract.suite import BackendContract
from tests.helpers.bodies import started


def fs(root: Path, name: str) -> FsBackend:
    return FsBackend(root / name, name=name, fsync=False)


class TestContractRouter(BackendContract):
    object_lock: ClassVar[bool] = True  # its fs members lock

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        one, two = fs(tmp_path, "fs-one"), fs(tmp_path, "fs-two")
        router = Router([Route("ct-[0-7]*", one, None, "tenant/a/"), Route("*", two, None, "b~")])
        async for b in started(router):
            yield b


class TestContractRetry(BackendContract):
    object_lock: ClassVar[bool] = True  # its fs members lock

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        async for b in started(Retry(fs(tmp_path, "fs-retried"), attempts=3, base_delay=0.01)):
            yield b


class TestContractFallback(BackendContract):
    versioning: ClassVar[bool] = False  # members keep separate histories: refused

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        async for b in started(Fallback(fs(tmp_path, "fs-primary"), fs(tmp_path, "fs-secondary"))):
            yield b


class TestContractFallbackJournalled(BackendContract):
    """With the outage journal on: the pending-key checks and listing overlay change nothing while the
    primary is up."""

    versioning: ClassVar[bool] = False  # members keep separate histories: refused

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        secondary = fs(tmp_path, "fs-secondary")
        journal = Journal(secondary, prefix="fb/")
        fb = Fallback(fs(tmp_path, "fs-primary"), secondary, journal=journal, reconcile_interval=0)
        async for b in started(fb):
            yield b


class TestContractMirror(BackendContract):
    versioning: ClassVar[bool] = False  # members keep separate histories: refused

    conditional_writes: ClassVar[frozenset[str]] = frozenset()  # members cannot decide one answer

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        async for b in started(Mirror([fs(tmp_path, "fs-m1"), fs(tmp_path, "fs-m2")], write_quorum=2)):
            yield b
