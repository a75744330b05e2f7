"""The contract suite over the encrypt composite on every kind of store, with the encrypt checks.

Each class wraps a real store in ``Encrypt`` (a fixed test master key) and runs the suite, ETags
included (an SSE-S3 object's ETag is its plaintext's MD5, as on S3; ``opaque_part_etags()``: a part's
is the store's), plus ``EncryptChecks``, which reads the inner store directly to find no plaintext
there and tampers with it to find every change refused.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from backends.base import Backend
from backends.composite.encrypt import Encrypt
from backends.composite.keys import Keyring
from backends.fs.backend import FsBackend
from backends.obs.backend import build as build_obs
from backends.obs.settings import Settings as ObsSettings
from backends.oss.backend import build as build_oss
from backends.s3.backend import S3Backend
from tests.contract.encrypt_checks import EncryptChecks
from tests.contract.stores import (
    GATEWAY_KEY,
    GATEWAY_SECRET,
    META_BUCKET,
    MotoVersioningContract,
)
from tests.contract.suite import BackendContract
from tests.contract.suite_tagging import OBS_TAGS
from tests.contract.test_contract_s3 import s3_settings
from tests.helpers.bodies import opaque_part_etags, started
from tests.helpers.emulated import OBS_AK, OBS_SK, no_lookup, obs_emulator, oss_emulator, oss_settings
from tests.helpers.procs import ServerProcess, running

MASTER = Keyring("test-1", {"test-1": bytes(range(32))})


async def encrypted(inner: Backend) -> AsyncIterator[Backend]:
    with opaque_part_etags():
        async for b in started(Encrypt(inner, MASTER, name=f"enc-{inner.name}")):
            yield b


class TestContractEncryptFs(EncryptChecks, BackendContract):
    object_lock: ClassVar[bool] = True  # passed through to fs, which keeps and enforces it

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        async for b in encrypted(FsBackend(tmp_path / "root", name="fs-enc", fsync=False)):
            yield b


class TestContractEncryptS3Moto(EncryptChecks, MotoVersioningContract):
    object_lock = True  # the store's own; the ciphertext goes with a trailing checksum (s3 integrity)

    @pytest.fixture
    async def backend(self, moto: ServerProcess) -> AsyncIterator[Backend]:
        async for b in encrypted(
            S3Backend(s3_settings(moto.url, "moto-access", "moto-secret"), name="s3-moto")
        ):
            yield b

    @pytest.mark.parametrize("upload_id", ["does-not-exist", "../../etc", "0" * 32, "a/b", ""], ids=repr)
    async def test_unknown_upload(self, backend: Backend, bucket: str, upload_id: str) -> None:
        """Unmarked: the encrypt layer refuses an id it did not hand out before moto sees it."""
        await BackendContract.test_unknown_upload(self, backend, bucket, upload_id)


class TestContractEncryptS3Gateway(EncryptChecks, BackendContract):
    object_lock = True  # the store's own; the ciphertext goes with a trailing checksum (s3 integrity)

    @pytest.fixture
    async def backend(self, gateway_store: ServerProcess) -> AsyncIterator[Backend]:
        inner = S3Backend(s3_settings(gateway_store.url, GATEWAY_KEY, GATEWAY_SECRET), name="s3-gateway")
        async for b in encrypted(inner):
            yield b


@pytest.fixture(scope="module")
def oss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(oss_emulator(tmp_path_factory.mktemp("oss-emulator")))


@pytest.fixture(scope="module")
def obs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(obs_emulator(tmp_path_factory.mktemp("obs-emulator")))


class TestContractEncryptOss(EncryptChecks, BackendContract):
    conditional_writes: ClassVar[frozenset[str]] = frozenset({"if_none_match"})
    repeat_complete: ClassVar[bool] = False  # the store forgets a completed upload id at once

    @pytest.fixture
    async def backend(self, oss: ServerProcess) -> AsyncIterator[Backend]:
        inner = build_oss(oss_settings(oss, "v4"), name=f"oss-{uuid.uuid4().hex[:6]}", lookup=no_lookup)
        async for b in encrypted(inner):
            yield b


class TestContractEncryptObs(EncryptChecks, BackendContract):
    tag_sample: ClassVar[dict[str, str]] = OBS_TAGS  # the emulator keeps OBS's tag rules
    conditional_writes: ClassVar[frozenset[str]] = frozenset()
    repeat_complete: ClassVar[bool] = False  # the store forgets a completed upload id at once

    @pytest.fixture
    async def backend(self, obs: ServerProcess) -> AsyncIterator[Backend]:
        settings = ObsSettings(
            type="obs",
            server=obs.url,
            access_key=OBS_AK,
            secret_key=OBS_SK,
            signature="obs",
            meta_bucket=META_BUCKET,
        )
        async for b in encrypted(build_obs(settings, name="obs-enc", lookup=no_lookup)):
            yield b
