"""Shared test fixtures: async tests run on asyncio through anyio's pytest plugin; the in-process gateway;
the session's Ceph RGW store and its liveness check around every test marked ``rgw`` (tests/helpers/rgw.py)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.inproc import InProcessGateway
from tests.helpers.rgw import rgw_cluster, rgw_watch  # noqa: F401 - fixtures for every test module


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def inproc(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    """The gateway app in-process over a temporary fs backend (``tests.helpers.inproc``)."""
    async with InProcessGateway.over(tmp_path) as gateway:
        yield gateway
