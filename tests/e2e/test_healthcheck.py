"""``python -m gateway.healthcheck``, the image's HEALTHCHECK: it asks the liveness path on the port
the configuration names (not a fixed 8080), and fails once the gateway is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.procs import free_port, gateway_server

KEYS = {"S3BRIDGE_ACCESS_KEY": "hc-key", "S3BRIDGE_SECRET_KEY": "hc-secret-0123456789"}


def healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.healthcheck", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **KEYS},
    )


def test_healthcheck_follows_the_configured_port(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "gateway.yaml"
    document = {
        "server": {"host": "0.0.0.0", "port": port},  # as in the container: every interface
        "credentials": [{"access_key": "${S3BRIDGE_ACCESS_KEY}", "secret_key": "${S3BRIDGE_SECRET_KEY}"}],
        "backends": {"local": {"type": "fs", "root": str(tmp_path / "data")}},
    }
    config.write_text(yaml.safe_dump(document))
    server = gateway_server(port, config=config, env=KEYS, log_path=tmp_path / "gw.log")
    with server:
        ok = healthcheck("--config", str(config))
        assert ok.returncode == 0, ok.stderr
        wrong = healthcheck("--config", str(config), "--port", str(free_port()))
        assert wrong.returncode == 1 and "healthcheck:" in wrong.stderr
    gone = healthcheck("--config", str(config))
    assert gone.returncode == 1
    assert f"127.0.0.1:{port}/_s3bridge/health/live" in gone.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("server: {port: nope}\n")
    bad = healthcheck("--config", str(broken))
    assert bad.returncode == 1 and "configuration error" in bad.stderr
