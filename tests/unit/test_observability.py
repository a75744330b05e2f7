"""The operator's view of a degraded mirror: writes stored short of a member are counted in the metrics
and named in the readiness detail, through the real endpoints of an in-process app."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backends.base import ObjectMeta
from backends.composite.mirror import Mirror
from backends.fs.backend import FsBackend
from gateway import health
from gateway.app import S3App
from gateway.config import validate
from gateway.observability import METRICS_PATH, READY_PATH, Observability
from tests.helpers.bodies import ChunkedBody
from tests.helpers.faults import immutable

pytestmark = pytest.mark.anyio


def _app(root: Path, backend: Mirror) -> httpx.AsyncClient:
    config = validate({"backends": {"local": {"type": "fs", "root": str(root)}}})
    observability = Observability(config, backend)
    app = observability.wrap(S3App(config, backend, extra=observability.handle))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_degraded_mirror_shows_in_metrics_and_readiness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "READY_CACHE_SECONDS", 0)  # every probe checks afresh
    members = [FsBackend(tmp_path / n, name=n, fsync=False) for n in ("m0", "m1")]
    mirror = Mirror(members, write_quorum=1, name="pair")
    await mirror.start()
    await mirror.create_bucket("b")
    http = _app(tmp_path / "unused", mirror)
    async with http:
        ready = (await http.get(READY_PATH)).json()
        assert ready == {"status": "ok", "detail": ""}
        assert (
            's3bridge_mirror_degraded_writes_total{backend="pair"} 1.0'
            not in (await http.get(METRICS_PATH)).text
        )

        broken = tmp_path / "m1" / "b"
        immutable(broken)
        try:
            await mirror.put_object("b", "k", ChunkedBody(b"data"), ObjectMeta())
        finally:
            immutable(broken, False)
        assert mirror.degraded == 1

        metrics = (await http.get(METRICS_PATH)).text
        assert 's3bridge_mirror_degraded_writes_total{backend="pair"} 1.0' in metrics
        ready = (await http.get(READY_PATH)).json()
        assert ready["status"] == "ok"
        assert ready["detail"] == "pair: 1 write(s) stored on fewer than all members"
    await mirror.close()
