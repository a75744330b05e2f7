"""Running it in production, end to end against real ``s3bridge serve`` processes: access log, metrics,
health endpoints, bucket rights per key pair and public buckets, graceful shutdown, the container
entrypoint."""

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from gateway.health import LIVE_PATH, METRICS_PATH, READY_PATH
from tests.procs import REPO, ServerProcess, free_port, gateway_server, http_ready

KEYS = {
    "admin": ("admin-key", "admin-secret-0123456789abcdef"),
    "alice": ("alice-key", "alice-secret-0123456789abcdef"),
    "bob": ("bob-key", "bob-secret-0123456789abcdef"),
}
DOMAIN = "s3.test"


def client(url: str, who: str, **config: Any):  # type: ignore[no-untyped-def]
    access, secret = KEYS[who]
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=BotoConfig(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"total_max_attempts": 1, "mode": "standard"},
            **config,
        ),
    )


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
    """The one access-log line of a request. The line is written once the answer has gone out, so a
    client can read the log before it is there: wait for it a little."""
    deadline = time.monotonic() + 3
    while True:
        found = [e for e in access_lines(server) if e["request_id"] == request_id]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == 1, f"expected one access line for {request_id}, got {found}"
    return found[0]


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
    config = {
        "server": {"domains": [DOMAIN]},
        "credentials": [
            {"access_key": KEYS["admin"][0], "secret_key": "${ADMIN_SECRET}"},
            {
                "access_key": KEYS["alice"][0],
                "secret_key": KEYS["alice"][1],
                "buckets": [
                    {"bucket": "alice-*", "rights": ["read", "write", "list"]},
                    {"bucket": "shared", "rights": ["read", "list"]},
                ],
            },
            {
                "access_key": KEYS["bob"][0],
                "secret_key_file": str(base / "bob.secret"),
                "buckets": [{"bucket": "bob-*", "rights": ["read", "write", "list"]}],
            },
        ],
        "public_buckets": [{"bucket": "pub-*"}],
        "backends": {
            "local": {"type": "fs", "root": str(base / "data")},
            # a store nobody listens for: the retry and fallback composites have work to do
            "dead": {
                "type": "s3",
                "endpoint": f"http://127.0.0.1:{free_port()}",
                "access_key": "dead-key",
                "secret_key": "dead-secret",
                "connect_timeout": 1,
            },
            "rdead": {"type": "retry", "backend": "dead", "attempts": 2, "base_delay": 0, "max_delay": 0},
            "safe": {"type": "fallback", "primary": "rdead", "secondary": "local"},
        },
        "routes": [{"bucket": "safe-*", "backend": "safe"}, {"bucket": "*", "backend": "local"}],
    }
    (base / "bob.secret").write_text(KEYS["bob"][1] + "\n")
    path = base / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    server = gateway_server(
        config=path, env={"ADMIN_SECRET": KEYS["admin"][1]}, log_path=base / "gateway.log"
    )
    server.start()
    admin = client(server.url, "admin")
    for bucket in ("alice-data", "bob-data", "shared", "pub-site", "private-site"):
        admin.create_bucket(Bucket=bucket)
        admin.put_object(Bucket=bucket, Key="hello.txt", Body=f"hello from {bucket}".encode())
    yield server
    server.stop()


# -- health --------------------------------------------------------------------------------------------
def test_health_endpoints(gateway: ServerProcess) -> None:
    live = httpx.get(gateway.url + LIVE_PATH)
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = httpx.get(gateway.url + READY_PATH)
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert httpx.get(gateway.url + LIVE_PATH, headers={"Host": DOMAIN}).json() == {"status": "ok"}


def test_health_path_on_a_bucket_host_is_an_object_key(gateway: ServerProcess) -> None:
    """On ``bucket.<domain>`` the path is a key: the bucket's object answers, not the gateway."""
    client(gateway.url, "admin").put_object(Bucket="pub-site", Key=LIVE_PATH[1:], Body=b"an object")
    got = httpx.get(gateway.url + LIVE_PATH, headers={"Host": f"pub-site.{DOMAIN}"})
    assert (got.status_code, got.content) == (200, b"an object")
    private = httpx.get(gateway.url + READY_PATH, headers={"Host": f"private-site.{DOMAIN}"})
    assert private.status_code == 403 and b"<Code>AccessDenied</Code>" in private.content
    # a bucket named like the prefix cannot exist, so path-style is always the gateway's endpoint
    with pytest.raises(ClientError) as err:
        client(gateway.url, "admin").create_bucket(Bucket="_s3bridge")
    assert error_code(err) == "InvalidBucketName"


def test_readiness_fails_with_an_unreachable_backend_and_access_log_off(tmp_path: Path) -> None:
    config = {
        "credentials": [{"access_key": KEYS["admin"][0], "secret_key": KEYS["admin"][1]}],
        "backends": {
            "gone": {
                "type": "s3",
                "endpoint": f"http://127.0.0.1:{free_port()}",
                "access_key": "k",
                "secret_key": "s",
                "connect_timeout": 1,
            }
        },
        "logging": {"access_log": False},
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    with gateway_server(config=path, log_path=tmp_path / "log") as server:
        assert httpx.get(server.url + LIVE_PATH).status_code == 200
        ready = httpx.get(server.url + READY_PATH, timeout=10)
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable" and ready.json()["detail"]
        with pytest.raises(ClientError) as err:
            client(server.url, "admin").list_buckets()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert access_lines(server) == []


# -- access log ----------------------------------------------------------------------------------------
def test_access_log_line_per_request(gateway: ServerProcess) -> None:
    alice = client(gateway.url, "alice")
    body = random.Random(1).randbytes(300_000)
    put = alice.put_object(Bucket="alice-data", Key="dir/log-me.bin", Body=body)
    get = alice.get_object(Bucket="alice-data", Key="dir/log-me.bin")
    assert get["Body"].read() == body
    with pytest.raises(ClientError) as err:
        alice.put_object(Bucket="bob-data", Key="nope", Body=b"x")
    denied_id = err.value.response["ResponseMetadata"]["RequestId"]

    line = access_line(gateway, put["ResponseMetadata"]["RequestId"])
    assert line["operation"] == "PutObject"
    assert line["key_id"] == KEYS["alice"][0]
    assert (line["bucket"], line["status"], line["error"]) == ("alice-data", 200, None)
    assert line["bytes_in"] == len(body)
    assert line["backend"] == "local"
    assert line["remote"] == "127.0.0.1"
    assert line["method"] == "PUT" and line["path"] == "/alice-data/dir/log-me.bin"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0

    line = access_line(gateway, get["ResponseMetadata"]["RequestId"])
    assert (line["operation"], line["status"], line["bytes_out"], line["bytes_in"]) == (
        "GetObject",
        200,
        len(body),
        0,
    )
    line = access_line(gateway, denied_id)
    assert (line["operation"], line["status"], line["error"]) == ("PutObject", 403, "AccessDenied")


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


# -- metrics -------------------------------------------------------------------------------------------
def test_metrics(gateway: ServerProcess) -> None:
    admin = client(gateway.url, "admin")
    before = scrape(gateway.url)
    body = b"m" * 12345
    admin.put_object(Bucket="alice-data", Key="metrics.bin", Body=body)
    assert admin.get_object(Bucket="alice-data", Key="metrics.bin")["Body"].read() == body
    with pytest.raises(ClientError):
        admin.head_object(Bucket="alice-data", Key="missing")
    after = scrape(gateway.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("s3bridge_requests_total", operation="PutObject", status="200", backend="local") == 1
    assert delta("s3bridge_requests_total", operation="GetObject", status="200", backend="local") == 1
    assert delta("s3bridge_requests_total", operation="HeadObject", status="404") == 1
    assert delta("s3bridge_request_duration_seconds_count", operation="PutObject") == 1
    assert delta("s3bridge_received_bytes_total", operation="PutObject") == len(body)
    assert delta("s3bridge_sent_bytes_total", operation="GetObject") == len(body)
    assert delta("s3bridge_requests_total", operation="Metrics", status="200") == 1  # the first scrape
    assert value(after, "s3bridge_requests_in_flight") == 1  # the scrape itself


def test_metrics_export_retries_and_fallbacks(gateway: ServerProcess) -> None:
    """Writes to ``safe-*`` go to a fallback whose primary (behind retry) is down."""
    admin = client(gateway.url, "admin")
    before = scrape(gateway.url)
    admin.create_bucket(Bucket="safe-one")
    admin.put_object(Bucket="safe-one", Key="k", Body=b"kept on the secondary")
    assert admin.get_object(Bucket="safe-one", Key="k")["Body"].read() == b"kept on the secondary"
    after = scrape(gateway.url)
    assert value(after, "s3bridge_backend_retries_total", backend="rdead") > value(
        before, "s3bridge_backend_retries_total", backend="rdead"
    )
    assert (
        value(after, "s3bridge_backend_fallbacks_total", backend="safe")
        - value(before, "s3bridge_backend_fallbacks_total", backend="safe")
        >= 2
    )


def test_metrics_count_backend_errors(gateway: ServerProcess) -> None:
    admin = client(gateway.url, "admin")
    with pytest.raises(ClientError):
        admin.get_object(Bucket="alice-data", Key="no-such-key")
    assert (
        value(scrape(gateway.url), "s3bridge_backend_errors_total", backend="local", error="NoSuchKey") >= 1
    )


# -- rights per key pair, public buckets ---------------------------------------------------------------
def test_key_pairs_with_different_rights(gateway: ServerProcess) -> None:
    alice, bob = client(gateway.url, "alice"), client(gateway.url, "bob")
    alice.put_object(Bucket="alice-data", Key="a.txt", Body=b"alice")
    assert alice.get_object(Bucket="shared", Key="hello.txt")["Body"].read() == b"hello from shared"
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="shared")["Contents"]] == ["hello.txt"]
    refused = [
        lambda: alice.put_object(Bucket="shared", Key="x", Body=b"x"),  # read-only there
        lambda: alice.get_object(Bucket="bob-data", Key="hello.txt"),
        lambda: alice.list_objects_v2(Bucket="bob-data"),
        lambda: alice.create_bucket(Bucket="alice-new"),  # no admin right
        lambda: alice.delete_bucket(Bucket="alice-data"),
        lambda: bob.get_object(Bucket="alice-data", Key="a.txt"),
        lambda: bob.head_bucket(Bucket="shared"),
        lambda: bob.get_object(Bucket="nonexistent-bucket", Key="k"),  # same answer: names do not leak
    ]
    for call in refused:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    bob.put_object(Bucket="bob-data", Key="b.txt", Body=b"bob")
    assert bob.get_object(Bucket="bob-data", Key="b.txt")["Body"].read() == b"bob"


def test_list_buckets_is_filtered_per_key(gateway: ServerProcess) -> None:
    def names(who: str) -> set[str]:
        return {b["Name"] for b in client(gateway.url, who).list_buckets()["Buckets"]}

    assert names("alice") == {"alice-data", "shared"}
    assert names("bob") == {"bob-data"}
    assert {"alice-data", "bob-data", "shared", "pub-site", "private-site"} <= names("admin")


def test_unknown_key_is_refused(gateway: ServerProcess) -> None:
    stranger = boto3.client(
        "s3",
        endpoint_url=gateway.url,
        aws_access_key_id="stranger",
        aws_secret_access_key="whatever-0123456789",
        region_name="us-east-1",
        config=BotoConfig(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        stranger.list_buckets()
    assert error_code(err) == "InvalidAccessKeyId"


def test_anonymous_access(gateway: ServerProcess) -> None:
    public = httpx.get(gateway.url + "/pub-site/hello.txt")
    assert (public.status_code, public.content) == (200, b"hello from pub-site")
    assert httpx.head(gateway.url + "/pub-site/hello.txt").status_code == 200
    listing = httpx.get(gateway.url + "/pub-site", params={"list-type": "2"})
    assert listing.status_code == 200 and b"<Key>hello.txt</Key>" in listing.content
    for method, path in [
        ("GET", "/private-site/hello.txt"),
        ("GET", "/private-site"),
        ("PUT", "/pub-site/anonymous-write"),
        ("DELETE", "/pub-site/hello.txt"),
        ("GET", "/"),
    ]:
        response = httpx.request(method, gateway.url + path, content=b"x" if method == "PUT" else None)
        assert response.status_code == 403, (method, path)
        assert b"<Code>AccessDenied</Code>" in response.content
    assert client(gateway.url, "admin").get_object(Bucket="pub-site", Key="hello.txt")["Body"].read()


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
    from tests.unit.test_docs_config import dockerfile

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
        assert any(e["operation"] == "PutObject" for e in access_lines(server))
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
