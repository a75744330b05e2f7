"""Running it in production, end to end against real ``s3bridge serve`` processes: the process log holds
no secret, graceful shutdown, the container entrypoint, metrics shared by worker processes.

(Health endpoints, the access log's lines, metrics, rights per key pair and public buckets are answers
of the app, tested in-process: ``tests/inproc/test_production.py``.)"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability import LIVE_PATH, METRICS_PATH, READY_PATH
from tests.helpers.clients import boto3_client
from tests.helpers.procs import REPO, ServerProcess, free_port, gateway_server, http_ready
from tests.helpers.production import ADMIN_SECRET_ENV, BUCKETS, KEYS, production_config


def client(url: str, who: str, **config: Any):  # type: ignore[no-untyped-def]
    return boto3_client(url, KEYS[who], **config)


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def access_lines(server: ServerProcess) -> list[dict[str, Any]]:
    assert server.log_path is not None
    lines = []
    for raw in server.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            entry = json.loads(raw)
            if "request_id" in entry:
                lines.append(entry)
    return lines


def access_line(server: ServerProcess, request_id: str) -> dict[str, Any]:
    """The request's one access line. The line is written once the response went out, and lines reach
    the file in batches (gateway.logbuffer), so a client can hold the answer a moment before the line
    reaches the log: wait for it, a few seconds at most."""
    found = wait_for_access(server, lambda e: e["request_id"] == request_id)
    assert len(found) == 1, f"expected one access line for {request_id}, got {found}"
    return found[0]


def wait_for_access(server: ServerProcess, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The access lines ``wanted`` picks, once there is one (or after five seconds: none)."""
    deadline = time.monotonic() + 5
    while True:
        found = [e for e in access_lines(server) if wanted(e)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = httpx.get(url + METRICS_PATH, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items()))


# -- one gateway with three key pairs, a public bucket glob, a virtual-host domain and composites --------
@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("prod")
    config = production_config(base)
    path = base / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    server = gateway_server(
        config=path, env={ADMIN_SECRET_ENV: KEYS["admin"][1]}, log_path=base / "gateway.log"
    )
    server.start()
    admin = client(server.url, "admin")
    for bucket in BUCKETS:
        admin.create_bucket(Bucket=bucket)
        admin.put_object(Bucket=bucket, Key="hello.txt", Body=f"hello from {bucket}".encode())
    yield server
    server.stop()


# -- access log ----------------------------------------------------------------------------------------
def test_access_log_never_holds_secrets(gateway: ServerProcess) -> None:
    admin = client(gateway.url, "admin")
    v4 = admin.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "hello.txt"})
    v2_client = client(gateway.url, "admin", signature_version="s3")
    v2 = v2_client.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "hello.txt"})
    v4s3 = client(gateway.url, "admin", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "shared", "Key": "hello.txt"}
    )
    secrets_seen: set[str] = set()
    ids = []
    for url in (v4, v2, v4s3):
        response = httpx.get(url)
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-amz-request-id"])
        query = httpx.URL(url).params
        secrets_seen |= {query[k] for k in ("X-Amz-Signature", "Signature", "X-Amz-Credential") if k in query}
    signed = admin.list_objects_v2(Bucket="shared")
    ids.append(signed["ResponseMetadata"]["RequestId"])
    bad = httpx.get(
        gateway.url + "/shared/hello.txt",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=admin-key/20250101/us-east-1/s3/aws4_request, "
                 "SignedHeaders=host, Signature=" + "ab" * 32},
    )  # fmt: skip
    assert bad.status_code == 403
    ids.append(bad.headers["x-amz-request-id"])
    assert len(secrets_seen) >= 3
    for rid in ids[:-1]:
        assert access_line(gateway, rid)["key_id"] == KEYS["admin"][0]
    refused = access_line(gateway, ids[-1])
    assert (refused["key_id"], refused["status"]) == (None, 403) and refused["error"]  # no x-amz-date
    assert gateway.log_path is not None
    log = gateway.log_path.read_text()
    for secret in [*(s for _, s in KEYS.values()), *secrets_seen, "ab" * 32]:
        assert secret not in log
    for word in ("Signature", "Authorization", "X-Amz-", "AWS4-HMAC-SHA256", "Credential"):
        assert word not in log


# -- graceful shutdown ---------------------------------------------------------------------------------
SIZE = 64 * 1024 * 1024
CHUNK = 1024 * 1024


def test_sigterm_lets_an_upload_finish(tmp_path: Path) -> None:
    access, secret = KEYS["admin"]
    port = free_port()
    data = tmp_path / "data"

    def start() -> ServerProcess:
        return gateway_server(
            port, data_dir=data, access_key=access, secret_key=secret, log_path=tmp_path / "gw.log"
        ).start()

    server = start()
    admin = client(server.url, "admin", signature_version="s3v4")
    admin.create_bucket(Bucket="drain")
    url = admin.generate_presigned_url("put_object", Params={"Bucket": "drain", "Key": "big.bin"})
    sent = hashlib.sha256()
    halfway = threading.Event()
    outcome: dict[str, Any] = {}

    def body() -> Iterator[bytes]:
        rng = random.Random(64)
        for i in range(SIZE // CHUNK):
            if i == 16:
                halfway.set()
            if i >= 16:
                threading.Event().wait(0.03)  # slow enough that SIGTERM lands mid-body
            chunk = rng.randbytes(CHUNK)
            sent.update(chunk)
            yield chunk

    def upload() -> None:
        try:
            response = httpx.put(url, content=body(), headers={"Content-Length": str(SIZE)}, timeout=60)
            outcome["status"] = response.status_code
            outcome["text"] = response.text
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=upload)
    worker.start()
    try:
        assert halfway.wait(30)
        server.signal(signal.SIGTERM)
        threading.Event().wait(0.5)
        assert server.proc is not None and server.proc.poll() is None, (
            "the gateway did not wait for the upload"
        )
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        worker.join(60)
        assert not worker.is_alive()
        assert outcome.get("status") == 200, outcome
        # uvicorn re-raises the signal once it has drained: a clean exit by SIGTERM, after its shutdown
        assert server.proc.wait(30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in server.log_text()
    finally:
        worker.join(60)
        server.stop()

    server = start()
    try:
        got = hashlib.sha256()
        stream = client(server.url, "admin").get_object(Bucket="drain", Key="big.bin")["Body"]
        for block in iter(lambda: stream.read(CHUNK), b""):
            got.update(block)
        assert got.hexdigest() == sent.hexdigest()
    finally:
        server.stop()


# -- the container's entrypoint, outside a container ---------------------------------------------------
def test_dockerfile_entrypoint_runs(tmp_path: Path) -> None:
    from tests.helpers.deploy import dockerfile

    argv = json.loads(dockerfile()["ENTRYPOINT"])
    config_index = argv.index("--config") + 1
    container_config = argv[config_index]
    shutil.copy(REPO / "deploy" / "gateway.yaml", tmp_path / "gateway.yaml")
    argv[config_index] = str(tmp_path / "gateway.yaml")
    exe = shutil.which(argv[0])
    argv[:1] = [exe] if exe else [sys.executable, "-m", "gateway"]
    port = free_port()
    # tests listen on loopback only: the later --host/--port win over the entrypoint's --host 0.0.0.0
    argv += ["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    access, secret = KEYS["admin"]
    env = {"S3BRIDGE_ACCESS_KEY": access, "S3BRIDGE_SECRET_KEY": secret}
    assert container_config == "/etc/s3bridge/gateway.yaml"
    with ServerProcess(argv, port, env=env, log_path=tmp_path / "log", ready=http_ready(LIVE_PATH)) as server:
        assert httpx.get(server.url + READY_PATH).status_code == 200
        s3 = client(server.url, "admin")
        s3.create_bucket(Bucket="from-the-entrypoint")
        s3.put_object(Bucket="from-the-entrypoint", Key="k", Body=b"v")
        assert s3.get_object(Bucket="from-the-entrypoint", Key="k")["Body"].read() == b"v"
        assert wait_for_access(server, lambda e: e["operation"] == "PutObject")
    assert (tmp_path / "data" / "from-the-entrypoint").is_dir()


# -- several workers share their metrics through prometheus-client's multiprocess mode -----------------
def test_workers_share_metrics(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    access, secret = KEYS["admin"]
    server = gateway_server(
        data_dir=tmp_path / "data",
        access_key=access,
        secret_key=secret,
        extra_args=["--workers", "2"],
        env={"PROMETHEUS_MULTIPROC_DIR": str(shared)},
        log_path=tmp_path / "log",
    )
    with server:
        probes = value(scrape(server.url), "s3bridge_requests_total", operation="ListBuckets")  # readiness
        for _ in range(20):  # a new connection each: the kernel spreads them over the workers
            assert httpx.get(server.url + "/", headers={"Connection": "close"}).status_code == 403
        seen = []
        for _ in range(6):
            samples = scrape(server.url)
            assert value(samples, "s3bridge_requests_total", operation="ListBuckets") == probes + 20
            seen.append(value(samples, "s3bridge_requests_total", operation="Metrics"))
        assert seen == [float(n) for n in range(1, 7)], "each scrape must see every worker's earlier scrapes"
    assert len(list(shared.glob("counter_*.db"))) == 2
