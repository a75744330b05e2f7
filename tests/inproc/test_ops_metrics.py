"""The metrics an operator graphs and alerts on, read from ``/_s3bridge/metrics`` of the real app: the
process's own series, probes kept apart from S3 requests, the status of each request's duration, every
store call's latency, breaker states and mirror degradation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.inproc import InProcessGateway
from tests.helpers.production import dead_s3
from tests.helpers.prom import Samples, parse, value

pytestmark = pytest.mark.anyio
METRICS = "/_s3bridge/metrics"


async def scrape(gw: InProcessGateway) -> Samples:
    answer = await gw.request("GET", METRICS, signer=None)
    assert answer.status_code == 200
    return parse(answer.text)


async def test_process_series(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path) as gw:
        samples = await scrape(gw)
    assert value(samples, "process_resident_memory_bytes") > 1_000_000
    assert value(samples, "process_open_fds") > 0
    assert "process_cpu_seconds_total" in samples


async def test_probes_are_not_s3_requests(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path) as gw:
        for _ in range(3):
            assert (await gw.request("GET", "/_s3bridge/health/live", signer=None)).status_code == 200
        assert (await gw.request("GET", "/_s3bridge/health/ready", signer=None)).status_code == 200
        samples = await scrape(gw)
    for probe in ("HealthLive", "HealthReady"):
        assert value(samples, "s3bridge_requests_total", operation=probe) == 0
        assert value(samples, "s3bridge_request_duration_seconds_count", operation=probe) == 0
    assert value(samples, "s3bridge_health_probes_total", probe="HealthLive", status="200") == 3
    assert value(samples, "s3bridge_health_probes_total", probe="HealthReady", status="200") == 1


async def test_duration_by_status_and_backend_call_latency(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path) as gw:
        assert (await gw.request("PUT", "/timed")).status_code == 200
        assert (await gw.request("PUT", "/timed/k", body=b"abc")).status_code == 200
        assert (await gw.request("HEAD", "/timed/missing")).status_code == 404
        samples = await scrape(gw)
    count = "s3bridge_request_duration_seconds_count"
    assert value(samples, count, operation="PutObject", status="200") == 1
    assert value(samples, count, operation="HeadObject", status="404") == 1
    calls = "s3bridge_backend_call_duration_seconds_count"
    assert value(samples, calls, backend="local", operation="put_object", outcome="ok") == 1
    assert value(samples, calls, backend="local", operation="head_object", outcome="NoSuchKey") == 1
    assert value(samples, calls, backend="local", operation="create_bucket", outcome="ok") == 1


async def test_breaker_state_and_mirror_degraded(tmp_path: Path) -> None:
    backends = {
        "local": {"type": "fs", "root": str(tmp_path / "data"), "fsync": False},
        "dead": dead_s3(),
        "guard": {"type": "breaker", "backend": "dead", "failure_threshold": 1, "reset_timeout": 600},
        "pair": {"type": "mirror", "members": ["local", "dead"], "write_quorum": 1},
    }
    routes = [{"bucket": "guarded", "backend": "guard"}, {"bucket": "*", "backend": "pair"}]
    async with InProcessGateway.over(tmp_path, backends=backends, routes=routes) as gw:
        before = await scrape(gw)
        assert value(before, "s3bridge_breaker_state", backend="guard") == 0
        assert value(before, "s3bridge_mirror_degraded", backend="pair") == 0
        assert (await gw.request("HEAD", "/guarded")).status_code == 503
        (tmp_path / "data" / "mirrored").mkdir(parents=True)
        assert (await gw.request("PUT", "/mirrored/k", body=b"one copy")).status_code == 200
        after = await scrape(gw)
    assert value(after, "s3bridge_breaker_state", backend="guard") == 2
    assert value(after, "s3bridge_mirror_degraded", backend="pair") == 1
    calls = "s3bridge_backend_call_duration_seconds_count"
    assert value(after, calls, backend="dead", operation="head_bucket", outcome="BackendUnavailable") == 1
