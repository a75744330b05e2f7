"""The backend contract over the OBS backend, all stores real processes on loopback: ``v4`` against
moto's S3 server and against s3bridge itself (which checks SigV4), native ``obs`` against the strict
OBS wire emulator (``tests.emulators.obs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import httpx
import pytest

from backends.base import Backend
from backends.obs.backend import build
from backends.obs.settings import Settings
from tests.contract.stores import (
    GATEWAY_KEY,
    GATEWAY_SECRET,
    META_BUCKET,
    MotoVersioningContract,
    RecordsAnswerRepeats,
)
from tests.contract.suite import BackendContract
from tests.contract.suite_tagging import OBS_TAGS
from tests.helpers.emulated import OBS_AK as AK
from tests.helpers.emulated import OBS_SK as SK
from tests.helpers.emulated import no_lookup as _no_lookup
from tests.helpers.emulated import obs_emulator
from tests.helpers.procs import ServerProcess, running


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(obs_emulator(tmp_path_factory.mktemp("obs-emulator")))


async def started(settings: Settings) -> AsyncIterator[Backend]:
    backend = build(settings, name="obs-test", lookup=_no_lookup)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


class TestContractObs(RecordsAnswerRepeats, MotoVersioningContract):
    """SigV4 mode against moto's S3 server (moto is reset before each test: an empty namespace)."""

    conditional_writes: ClassVar[frozenset[str]] = frozenset()  # OBS writes take no precondition

    @pytest.fixture
    async def backend(self, moto: ServerProcess) -> AsyncIterator[Backend]:
        async with httpx.AsyncClient() as http:
            (await http.post(moto.url + "/moto-api/reset", timeout=10)).raise_for_status()
        settings = Settings(
            type="obs",
            server=moto.url,
            access_key=AK,
            secret_key=SK,
            signature="v4",
            region="us-east-1",
            meta_bucket=META_BUCKET,
        )
        async for backend in started(settings):
            yield backend


class TestContractObsNative(BackendContract):
    """The native OBS signature against the strict OBS wire emulator."""

    tag_sample: ClassVar[dict[str, str]] = OBS_TAGS  # the emulator keeps OBS's tag rules

    conditional_writes: ClassVar[frozenset[str]] = frozenset()  # OBS writes take no precondition

    @pytest.fixture
    async def backend(self, emulator: ServerProcess) -> AsyncIterator[Backend]:
        settings = Settings(
            type="obs",
            server=emulator.url,
            access_key=AK,
            secret_key=SK,
            signature="obs",
            meta_bucket=META_BUCKET,
        )
        async for backend in started(settings):
            yield backend


class TestContractObsGateway(BackendContract):
    """SigV4 mode against s3bridge itself (fs backend), which verifies every signature the SDK sends."""

    conditional_writes: ClassVar[frozenset[str]] = frozenset()  # OBS writes take no precondition

    @pytest.fixture
    async def backend(self, gateway_store: ServerProcess) -> AsyncIterator[Backend]:
        settings = Settings(
            type="obs",
            server=gateway_store.url,
            access_key=GATEWAY_KEY,
            secret_key=GATEWAY_SECRET,
            signature="v4",
            region="us-east-1",
            meta_bucket=META_BUCKET,
        )
        async for backend in started(settings):
            yield backend
