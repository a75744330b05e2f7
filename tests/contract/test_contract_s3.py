"""The backend contract suite over the S3 backend, against two real stores on loopback.

- moto's S3 server (it does not check signatures). moto deviates from AWS in a few multipart places;
  those tests are marked strict xfail with the exact deviation, so they start failing the day moto
  behaves like AWS and the mark must go.
- a second s3bridge process over its filesystem backend, which verifies every SigV4 signature, so the
  UNSIGNED-PAYLOAD streaming uploads are checked by a signature-verifying store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backends import errors as be
from backends.base import Backend
from backends.s3 import S3Backend, Settings
from tests.contract.suite import BackendContract
from tests.procs import ServerProcess, gateway_server, moto_server

GATEWAY_KEY = "s3-contract-access"
GATEWAY_SECRET = "s3-contract-secret-0123456789"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    server = moto_server(log_path=log).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = Path(tmp_path_factory.mktemp("gateway-store"))
    server = gateway_server(
        data_dir=root / "data",
        access_key=GATEWAY_KEY,
        secret_key=GATEWAY_SECRET,
        log_path=root / "gateway.log",
    ).start()
    try:
        yield server
    finally:
        server.stop()


def s3_settings(url: str, access_key: str, secret_key: str, **extra: object) -> Settings:
    return Settings.model_validate(
        {"type": "s3", "endpoint": url, "access_key": access_key, "secret_key": secret_key, **extra}
    )


def moto_deviation(
    reason: str, raises: type[BaseException] | tuple[type[BaseException], ...]
) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"moto deviates from AWS: {reason}")


DID_NOT_RAISE = pytest.fail.Exception
UNKNOWN_UPLOAD_500 = moto_deviation("UploadPart with an unknown upload id answers 500", be.BackendUnavailable)


class TestContractS3Moto(BackendContract):
    @pytest.fixture
    async def backend(self, moto: ServerProcess) -> AsyncIterator[Backend]:
        backend = S3Backend(s3_settings(moto.url, "moto-access", "moto-secret"), name="s3-moto")
        await backend.start()
        try:
            yield backend
        finally:
            await backend.close()

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

    @moto_deviation("an upload id is accepted for any key", DID_NOT_RAISE)
    async def test_upload_id_bound_to_key(self, backend: Backend, bucket: str) -> None:
        await super().test_upload_id_bound_to_key(backend, bucket)

    @moto_deviation("ListParts counts part-number-marker as an index, skipping parts", AssertionError)
    async def test_list_parts_paging(self, backend: Backend, bucket: str) -> None:
        await super().test_list_parts_paging(backend, bucket)

    @moto_deviation("ListMultipartUploads ignores delimiter and max-uploads, lists unsorted", AssertionError)
    async def test_list_uploads(self, backend: Backend, bucket: str) -> None:
        await super().test_list_uploads(backend, bucket)


class TestContractS3Gateway(BackendContract):
    """The store is s3bridge itself (fs backend), checking every signature the backend sends."""

    @pytest.fixture
    async def backend(self, gateway_store: ServerProcess) -> AsyncIterator[Backend]:
        backend = S3Backend(s3_settings(gateway_store.url, GATEWAY_KEY, GATEWAY_SECRET), name="s3-gateway")
        await backend.start()
        try:
            yield backend
        finally:
            await backend.close()
