"""Shared test fixtures: async tests run on asyncio through anyio's pytest plugin; the session's Ceph
RGW store and its liveness check around every test marked ``rgw`` come from tests/rgw.py."""

import pytest

from tests.rgw import rgw_cluster, rgw_watch  # noqa: F401 - fixtures for every test module


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
