"""Pieces for the multi-backend end-to-end tests: gateway configurations written as YAML, clients that
talk to a store directly (behind the gateway's back), metrics scraped from a running gateway, and
streamed digests of object bodies."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, boto3_client
from tests.helpers.procs import ServerProcess, free_port, gateway_server, http_ready
from tests.helpers.stores import STORE_AK, STORE_SK

MiB = 1024 * 1024


def s3_backend(url: str, **extra: Any) -> dict[str, Any]:
    """A ``type: s3`` backend on a loopback store; short timeouts, so a dead store is found out fast."""
    return {
        "type": "s3",
        "endpoint": url,
        "access_key": STORE_AK,
        "secret_key": STORE_SK,
        "connect_timeout": 2,
        "read_timeout": 20,
        **extra,
    }


#: The routing gateway: three stores by bucket, and a bucket kept under a prefix of a shared remote one.
ROUTES = [
    {"bucket": "alpha", "backend": "alpha_store"},
    {"bucket": "beta", "backend": "beta_store"},
    {"bucket": "gamma", "backend": "gamma_store"},
    {"bucket": "photos", "backend": "alpha_store", "remote_bucket": "prod-media", "prefix": "photos/"},
    {"bucket": "scratch", "backend": "alpha_store", "remote_bucket": "prod-scratch", "prefix": "s/"},
]


@dataclass
class Routed:
    gateway: ServerProcess
    moto: ServerProcess
    store: ServerProcess


def fallback_backends(proxy: ServerProcess, local: Path, *, breaker: bool) -> dict[str, dict[str, object]]:
    """``fb``: the s3 store behind ``proxy`` (through a fast retry) as primary, a local fs as secondary."""
    fb: dict[str, object] = {"type": "fallback", "primary": "primary", "secondary": "local"}
    if breaker:
        fb["breaker"] = {"failure_threshold": 2, "reset_timeout": 0.5}
    return {
        "fb": fb,
        "remote": s3_backend(proxy.url, connect_timeout=1),
        "primary": {
            "type": "retry",
            "backend": "remote",
            "attempts": 5,
            "base_delay": 0.01,
            "max_delay": 0.05,
        },
        "local": {"type": "fs", "root": str(local), "fsync": False},
    }


def write_config(
    path: Path, backends: Mapping[str, Mapping[str, Any]], routes: list[dict[str, str]] | None = None
) -> Path:
    doc: dict[str, Any] = {
        "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
        "backends": {name: dict(options) for name, options in backends.items()},
    }
    if routes:
        doc["routes"] = routes
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def start_gateway(config: Path, log: Path) -> ServerProcess:
    return gateway_server(config=config, log_path=log).start()


def store_gateway(root: Path) -> ServerProcess:
    """A second s3bridge on its own fs backend, as a store that verifies every signature it gets."""
    root.mkdir(parents=True, exist_ok=True)
    return gateway_server(
        data_dir=root / "data", access_key=STORE_AK, secret_key=STORE_SK, log_path=root / "store.log"
    ).start()


def oss_emulator(root: Path) -> tuple[ServerProcess, dict[str, Any]]:
    """The strict OSS wire emulator as a store, and the ``type: oss`` backend options that reach it
    (virtual-host names under ``oss.localtest``, dialled at 127.0.0.1)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "tests.emulators.oss", "--port", str(port), "--access-key", STORE_AK]
    argv += ["--secret-key", STORE_SK, "--region", "cn-hangzhou", "--domain", "oss.localtest"]
    argv += ["--data-dir", str(root / "data")]
    store = ServerProcess(argv, port, log_path=root / "oss.log", ready=http_ready("/")).start()
    backend = {
        "type": "oss",
        "endpoint": f"http://oss.localtest:{port}",
        "region": "cn-hangzhou",
        "access_key_id": STORE_AK,
        "access_key_secret": STORE_SK,
        "auth_version": "v4",
        "connect_address": "127.0.0.1",
    }
    return store, backend


def direct_client(url: str, *, ak: str = STORE_AK, sk: str = STORE_SK, attempts: int = 1):  # type: ignore[no-untyped-def]
    """boto3 straight to a store, to see what the gateway really put there; with ``attempts`` > 1 it
    retries as real clients do (standard mode)."""
    return boto3_client(url, (ak, sk), retries={"max_attempts": attempts, "mode": "standard"})


def retrying_client(url: str):  # type: ignore[no-untyped-def]
    """boto3 to the gateway with the SDK's own retries on, as applications run it (botocore's
    ``max_attempts`` counts retries after the first attempt)."""
    return direct_client(url, ak=ACCESS_KEY, sk=SECRET_KEY, attempts=5)


def served(response: Mapping[str, Any]) -> str | None:
    """The ``x-s3bridge-backend`` header of a boto3 response."""
    return response["ResponseMetadata"]["HTTPHeaders"].get("x-s3bridge-backend")


def body_sha256(response: Mapping[str, Any]) -> str:
    """SHA-256 of a GetObject body, read a MiB at a time."""
    h = hashlib.sha256()
    stream = response["Body"]
    for block in iter(lambda: stream.read(MiB), b""):
        h.update(block)
    return h.hexdigest()


def range_sha256(path: Path, start: int, end: int) -> str:
    """SHA-256 of bytes ``start..end`` (inclusive) of a file, read a MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start + 1
        while left:
            block = f.read(min(MiB, left))
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def metric(gateway: ServerProcess, sample: str, **labels: str) -> float:
    """The value of one sample in the gateway's Prometheus exposition (0 when not exported yet)."""
    text = httpx.get(gateway.url + "/_s3bridge/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


@contextmanager
def processes() -> Iterator[list[ServerProcess]]:
    """A list to append started processes to; every one is stopped by its pid on the way out."""
    started: list[ServerProcess] = []
    with ExitStack() as stack:
        stack.callback(lambda: _stop_all(started))
        yield started


def _stop_all(started: list[ServerProcess]) -> None:
    for proc in reversed(started):
        proc.stop()
