"""The contract suite over the filesystem backend, on a fresh root per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from backends.fs.backend import FsBackend
from tests.contract.suite import BackendContract


class TestContractFs(BackendContract):
    object_lock: ClassVar[bool] = True

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[FsBackend]:
        backend = FsBackend(tmp_path / "root", name="fs-test", fsync=False)
        await backend.start()
        yield backend
        await backend.close()
