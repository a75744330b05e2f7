"""One log format on stderr: with ``logging.format: json`` every line a real gateway process writes,
uvicorn's own included, is one JSON object; with ``text``, uvicorn's lines are text like ours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, boto3_client
from tests.helpers.procs import ServerProcess, gateway_server


def start(tmp_path: Path, fmt: str) -> ServerProcess:
    config = tmp_path / "gateway.yaml"
    doc: dict[str, Any] = {
        "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
        "backends": {"local": {"type": "fs", "root": str(tmp_path / "data"), "fsync": False}},
        "logging": {"format": fmt},
    }
    config.write_text(yaml.safe_dump(doc))
    return gateway_server(config=config, log_path=tmp_path / "gw.log").start()


def exercise(server: ServerProcess) -> None:
    s3 = boto3_client(server.url)
    s3.create_bucket(Bucket="logs")
    s3.put_object(Bucket="logs", Key="k", Body=b"x")
    assert httpx.get(server.url + "/_s3bridge/health/live").status_code == 200


def lines_after_use(tmp_path: Path, fmt: str) -> list[str]:
    """The log lines of a gateway in ``fmt`` that served a few requests and stopped."""
    server = start(tmp_path, fmt)
    try:
        exercise(server)
    finally:
        server.stop()
    return [line for line in (tmp_path / "gw.log").read_text().splitlines() if line.strip()]


def test_json_everything(tmp_path: Path) -> None:
    lines = lines_after_use(tmp_path, "json")
    entries = [json.loads(line) for line in lines]  # every line, or this raises
    for entry in entries:
        assert {"time", "level", "logger"} <= entry.keys()
    loggers = {e["logger"] for e in entries}
    assert "uvicorn.error" in loggers  # uvicorn's own records: startup, shutdown
    assert any(e.get("message", "").startswith("Application startup complete") for e in entries)
    assert any(e.get("message", "").startswith("s3bridge ") and "serving" in e["message"] for e in entries)
    access = [e for e in entries if e["logger"] == "s3bridge.access" and e["key_id"] == ACCESS_KEY]
    assert [e["operation"] for e in access] == ["CreateBucket", "PutObject"]
    assert all(e["request_id"] and e["status"] == 200 and e["level"] == "info" for e in access)


def test_text_uvicorn_and_app_alike(tmp_path: Path) -> None:
    lines = lines_after_use(tmp_path, "text")
    (startup,) = [line for line in lines if "Application startup complete" in line]
    assert " INFO uvicorn.error Application startup complete" in startup
    access = [json.loads(line) for line in lines if line.startswith("{")]
    access = [e for e in access if e["key_id"] == ACCESS_KEY]
    assert [e["operation"] for e in access] == ["CreateBucket", "PutObject"]
