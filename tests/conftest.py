"""Shared test fixtures: async tests run on asyncio through anyio's pytest plugin; the in-process gateway."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.inproc import InProcessGateway


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def inproc(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    """The gateway app in-process over a temporary fs backend (``tests.helpers.inproc``)."""
    async with InProcessGateway.over(tmp_path) as gateway:
        yield gateway
