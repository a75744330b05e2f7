"""Metrics only a real process can show: the HTTP layer's limits (open connections, requests in flight,
refusals by reason), and ``serve --workers N`` sharing every worker's counts with no setup."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import yaml

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY
from tests.helpers.procs import gateway_server
from tests.helpers.prom import Samples, parse, value

METRICS = "/_s3bridge/metrics"


def scrape(url: str) -> Samples:
    answer = httpx.get(url + METRICS, headers={"Connection": "close"}, timeout=5)
    assert answer.status_code == 200
    return parse(answer.text)


def test_connection_limits_are_exposed(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    doc = {
        "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
        "backends": {"local": {"type": "fs", "root": str(tmp_path / "data"), "fsync": False}},
        "server": {"max_connections": 3},
    }
    config.write_text(yaml.safe_dump(doc))
    with gateway_server(config=config, log_path=tmp_path / "gw.log") as server:
        before = scrape(server.url)
        assert value(before, "s3bridge_open_connections") == 1  # the scrape's own
        assert value(before, "s3bridge_http_requests_in_flight") == 1
        with socket.create_connection(("127.0.0.1", server.port)) as bad:
            bad.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert b"BadRequest" in bad.recv(4096)
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        try:
            with socket.create_connection(("127.0.0.1", server.port)) as extra:
                assert b"SlowDown" in extra.recv(4096)
            idle.pop().close()  # one idle connection gives way for the scrape
            during = scrape(server.url)
        finally:
            for sock in idle:
                sock.close()
    assert value(during, "s3bridge_open_connections") == 3  # two idle, and the scrape
    assert value(during, "s3bridge_refusals_total", reason="bad_request") == 1
    assert value(during, "s3bridge_refusals_total", reason="max_connections") == 1


def test_workers_share_metrics_without_setup(tmp_path: Path) -> None:
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = gateway_server(
        data_dir=tmp_path / "data",
        extra_args=["--workers", "2"],
        env={"TMPDIR": str(temp)},
        log_path=tmp_path / "gw.log",
    )
    with server:
        (shared,) = list(temp.glob("s3bridge-metrics-*"))
        base = value(scrape(server.url), "s3bridge_requests_total", operation="ListBuckets")
        for _ in range(20):  # a new connection each: the kernel spreads them over the workers
            assert httpx.get(server.url + "/", headers={"Connection": "close"}).status_code == 403
        counts = [
            value(scrape(server.url), "s3bridge_requests_total", operation="ListBuckets") for _ in range(6)
        ]
        assert counts == [base + 20] * 6
        assert len(list(shared.glob("counter_*.db"))) == 2
    assert not shared.exists()
