"""Readiness as a stranger sees it: a failing backend makes it 503 without telling the store's words (they
name hosts and accounts); the gateway's log tells the operator which backend failed and why, in one line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.helpers.inproc import InProcessGateway
from tests.helpers.production import dead_s3

READY_PATH = "/_s3bridge/health/ready"
pytestmark = pytest.mark.anyio


async def test_unready_body_hides_the_backend_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gone = dead_s3()
    port = gone["endpoint"].rsplit(":", 1)[1]
    async with InProcessGateway.over(tmp_path, backends={"gone": gone}) as gw:
        with caplog.at_level(logging.WARNING, logger="s3bridge.health"):
            ready = await gw.request("GET", READY_PATH, signer=None)
    assert ready.status_code == 503
    body = ready.text
    assert ready.json()["status"] == "unavailable"
    for words in (port, "127.0.0.1", "Connection refused", "MaxRetryError", "gone", "BackendUnavailable"):
        assert words not in body
    logged = [r.getMessage() for r in caplog.records if r.name == "s3bridge.health"]
    assert logged == ["not ready: BackendUnavailable: Connection refused"]
