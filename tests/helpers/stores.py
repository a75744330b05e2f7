"""Store processes behind an end-to-end gateway: for each backend type, the store it talks to (moto's S3
server, the strict OSS and OBS emulators) and the YAML options of the backend that reaches it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY
from tests.helpers.procs import ServerProcess, free_port, gateway_server, http_ready, moto_server

STORE_AK, STORE_SK = "store-ak", "store-sk-0123456789abcdef"


def emulator(module: str, root: Path, extra: list[str]) -> ServerProcess:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        module,
        "--port",
        str(port),
        "--access-key",
        STORE_AK,
        "--secret-key",
        STORE_SK,
    ]
    argv += ["--data-dir", str(root / "store"), *extra]
    return ServerProcess(argv, port, log_path=root / "store.log", ready=http_ready("/"))


def store_and_backend(kind: str, root: Path) -> tuple[ServerProcess | None, str]:
    """Start the store for ``kind``; return it and the backend's YAML options."""
    if kind == "fs":
        return None, f"type: fs\n    root: {root / 'data'}\n"
    if kind in ("s3", "obs-v4"):
        store = moto_server(log_path=root / "store.log").start()
        if kind == "s3":
            yaml = f"type: s3\n    endpoint: {store.url}\n    access_key: {STORE_AK}\n    secret_key: {STORE_SK}\n"
        else:
            yaml = (
                f"type: obs\n    server: {store.url}\n    access_key: {STORE_AK}\n    secret_key: {STORE_SK}\n"
                "    signature: v4\n    region: us-east-1\n    path_style: true\n"
            )
        return store, yaml
    if kind.startswith("oss"):
        store = emulator(
            "tests.emulators.oss", root, ["--region", "cn-hangzhou", "--domain", "oss.localtest"]
        ).start()
        version = kind.split("-")[1]
        yaml = (
            f"type: oss\n    endpoint: http://oss.localtest:{store.port}\n    region: cn-hangzhou\n"
            f"    access_key_id: {STORE_AK}\n    access_key_secret: {STORE_SK}\n    auth_version: {version}\n"
            "    connect_address: 127.0.0.1\n"
        )
        return store, yaml
    if kind == "obs":
        store = emulator("tests.emulators.obs", root, []).start()
        yaml = f"type: obs\n    server: {store.url}\n    access_key: {STORE_AK}\n    secret_key: {STORE_SK}\n    signature: obs\n"
        return store, yaml
    raise ValueError(kind)


def serve_backend(root: Path, backend_yaml: str, store: ServerProcess | None) -> Iterator[ServerProcess]:
    """A fixture body: the gateway over one backend (``backend_yaml``) as ``store``, both stopped after."""
    config = root / "gateway.yaml"
    config.write_text(
        f"credentials:\n  - access_key: {ACCESS_KEY}\n    secret_key: {SECRET_KEY}\n"
        f"backends:\n  store:\n    {backend_yaml}"
    )
    gateway = gateway_server(config=config, log_path=root / "gateway.log")
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()
        if store is not None:
            store.stop()
