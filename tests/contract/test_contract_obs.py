"""The backend contract over the OBS backend, all stores real processes on loopback: ``v4`` against
moto's S3 server and against s3bridge itself (which checks SigV4), native ``obs`` against the strict
OBS wire emulator (``tests.emulators.obs``)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backends import errors as be
from backends.base import Backend
from backends.obs import Settings, build
from tests.contract.suite import BackendContract
from tests.procs import ServerProcess, free_port, gateway_server, http_ready, moto_server

AK, SK = "obs-test-ak", "obs-test-sk-0123456789abcdef"


def _no_lookup(name: str) -> Backend:
    raise KeyError(name)


def obs_emulator(root: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "tests.emulators.obs", "--port", str(port), "--access-key", AK]
    argv += ["--secret-key", SK, "--data-dir", str(root / "data")]
    return ServerProcess(argv, port, log_path=root / "emulator.log", ready=http_ready("/"))


def running(server: ServerProcess) -> Iterator[ServerProcess]:
    """Start ``server`` for a module's tests and stop it by its pid afterwards."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log"))


@pytest.fixture(scope="module")
def gateway_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("gateway-store")
    yield from running(
        gateway_server(data_dir=root / "data", access_key=AK, secret_key=SK, log_path=root / "gw.log")
    )


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


def moto_deviation(reason: str, raises: type[BaseException]) -> pytest.MarkDecorator:
    """Strict: the day moto behaves like AWS the mark fails and goes."""
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"moto deviates from AWS: {reason}")


UNKNOWN_UPLOAD_500 = moto_deviation("UploadPart with an unknown upload id answers 500", be.BackendUnavailable)


class TestContractObs(BackendContract):
    """SigV4 mode against moto's S3 server (moto is reset before each test: an empty namespace)."""

    @pytest.fixture
    async def backend(self, moto: ServerProcess) -> AsyncIterator[Backend]:
        async with httpx.AsyncClient() as http:
            (await http.post(moto.url + "/moto-api/reset", timeout=10)).raise_for_status()
        settings = Settings(
            type="obs", server=moto.url, access_key=AK, secret_key=SK, signature="v4", region="us-east-1"
        )
        async for backend in started(settings):
            yield backend

    @UNKNOWN_UPLOAD_500
    async def test_abort(self, backend: Backend, bucket: str) -> None:
        await super().test_abort(backend, bucket)

    @pytest.mark.parametrize(
        "upload_id",
        [pytest.param(u, marks=UNKNOWN_UPLOAD_500) for u in ("does-not-exist", "../../etc", "0" * 32, "a/b")]
        + [""],
        ids=repr,
    )
    async def test_unknown_upload(self, backend: Backend, bucket: str, upload_id: str) -> None:
        await super().test_unknown_upload(backend, bucket, upload_id)

    @moto_deviation("an upload id is accepted for any key", pytest.fail.Exception)
    async def test_upload_id_bound_to_key(self, backend: Backend, bucket: str) -> None:
        await super().test_upload_id_bound_to_key(backend, bucket)

    @moto_deviation("ListParts counts part-number-marker as an index, skipping parts", AssertionError)
    async def test_list_parts_paging(self, backend: Backend, bucket: str) -> None:
        await super().test_list_parts_paging(backend, bucket)

    @moto_deviation("ListMultipartUploads ignores delimiter and max-uploads", AssertionError)
    async def test_list_uploads(self, backend: Backend, bucket: str) -> None:
        await super().test_list_uploads(backend, bucket)


class TestContractObsNative(BackendContract):
    """The native OBS signature against the strict OBS wire emulator."""

    @pytest.fixture
    async def backend(self, emulator: ServerProcess) -> AsyncIterator[Backend]:
        settings = Settings(type="obs", server=emulator.url, access_key=AK, secret_key=SK, signature="obs")
        async for backend in started(settings):
            yield backend


class TestContractObsGateway(BackendContract):
    """SigV4 mode against s3bridge itself (fs backend), which verifies every signature the SDK sends."""

    @pytest.fixture
    async def backend(self, gateway_store: ServerProcess) -> AsyncIterator[Backend]:
        settings = Settings(
            type="obs",
            server=gateway_store.url,
            access_key=AK,
            secret_key=SK,
            signature="v4",
            region="us-east-1",
        )
        async for backend in started(settings):
            yield backend
