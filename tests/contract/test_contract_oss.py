"""The backend contract over the OSS backend against the strict OSS wire emulator (a real process).

The emulator only answers virtual-host requests (``<bucket>.oss.localtest``); the backend dials
127.0.0.1 through its ``connect_address`` option. Both OSS signature versions run the whole suite.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backends.base import Backend
from backends.oss.backend import build
from backends.oss.settings import Settings
from tests.contract.suite import BackendContract
from tests.procs import ServerProcess, free_port

AK, SK, REGION, DOMAIN = "oss-test-ak", "oss-test-sk-0123456789abcdef", "cn-hangzhou", "oss.localtest"


def oss_emulator(root: Path, *, security_token: str | None = None) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "tests.emulators.oss", "--port", str(port), "--access-key", AK]
    argv += ["--secret-key", SK, "--region", REGION, "--domain", DOMAIN, "--data-dir", str(root / "data")]
    if security_token:
        argv += ["--security-token", security_token]
    return ServerProcess(argv, port, log_path=root / "emulator.log")


def oss_settings(server: ServerProcess, auth_version: str = "v4", **changes: object) -> Settings:
    values: dict[str, object] = {
        "type": "oss",
        "endpoint": f"http://{DOMAIN}:{server.port}",
        "region": REGION,
        "access_key_id": AK,
        "access_key_secret": SK,
        "auth_version": auth_version,
        "connect_address": "127.0.0.1",
        "connect_timeout": 10,
        "max_workers": 4,
    }
    values.update(changes)
    return Settings.model_validate(values)


def _no_lookup(name: str) -> Backend:
    raise KeyError(name)


async def started(settings: Settings, name: str = "oss-test") -> AsyncIterator[Backend]:
    backend = build(settings, name=name, lookup=_no_lookup)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = oss_emulator(tmp_path_factory.mktemp("oss-emulator")).start()
    try:
        yield server
    finally:
        server.stop()


class TestContractOss(BackendContract):
    """OSS V4 signatures (the default)."""

    @pytest.fixture
    async def backend(self, emulator: ServerProcess) -> AsyncIterator[Backend]:
        async for backend in started(oss_settings(emulator, "v4"), name=f"oss-{uuid.uuid4().hex[:6]}"):
            yield backend


class TestContractOssV1(BackendContract):
    """OSS V1 signatures (``OSS ak:sig``)."""

    @pytest.fixture
    async def backend(self, emulator: ServerProcess) -> AsyncIterator[Backend]:
        async for backend in started(oss_settings(emulator, "v1")):
            yield backend
