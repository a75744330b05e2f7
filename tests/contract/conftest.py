"""Store processes the contract suites run against; module-scoped and started only when a test asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.stores import GATEWAY_KEY, GATEWAY_SECRET
from tests.helpers.procs import ServerProcess, gateway_server, moto_server, running


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log"))


@pytest.fixture(scope="module")
def gateway_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second s3bridge on the filesystem backend: a store that verifies every SigV4 signature."""
    root = tmp_path_factory.mktemp("gateway-store")
    yield from running(
        gateway_server(
            data_dir=root / "data",
            access_key=GATEWAY_KEY,
            secret_key=GATEWAY_SECRET,
            log_path=root / "gw.log",
        )
    )
