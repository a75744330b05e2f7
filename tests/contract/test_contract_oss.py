"""The backend contract over the OSS backend against the strict OSS wire emulator (a real process).

The emulator only answers virtual-host requests (``<bucket>.oss.localtest``); the backend dials
127.0.0.1 through its ``connect_address`` option. Both OSS signature versions run the whole suite.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import pytest

from backends.base import Backend
from tests.contract.suite import BackendContract
from tests.helpers.emulated import oss_emulator, oss_settings
from tests.helpers.emulated import started_oss as started
from tests.helpers.procs import ServerProcess


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = oss_emulator(tmp_path_factory.mktemp("oss-emulator")).start()
    try:
        yield server
    finally:
        server.stop()


class TestContractOss(BackendContract):
    """OSS V4 signatures (the default)."""

    conditional_writes: ClassVar[frozenset[str]] = frozenset(
        {"if_none_match"}
    )  # x-oss-forbid-overwrite; no atomic If-Match

    @pytest.fixture
    async def backend(self, emulator: ServerProcess) -> AsyncIterator[Backend]:
        async for backend in started(oss_settings(emulator, "v4"), name=f"oss-{uuid.uuid4().hex[:6]}"):
            yield backend


class TestContractOssV1(BackendContract):
    """OSS V1 signatures (``OSS ak:sig``)."""

    conditional_writes: ClassVar[frozenset[str]] = frozenset(
        {"if_none_match"}
    )  # x-oss-forbid-overwrite; no atomic If-Match

    @pytest.fixture
    async def backend(self, emulator: ServerProcess) -> AsyncIterator[Backend]:
        async for backend in started(oss_settings(emulator, "v1")):
            yield backend
