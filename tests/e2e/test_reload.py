"""SIGHUP on a real gateway process: key pairs, public buckets and the TLS certificate change without a
restart and without dropping a connection; a broken new file is refused and the old one keeps serving."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import yaml
from botocore.exceptions import ClientError
from cryptography import x509

from tests.helpers.clients import boto3_client
from tests.helpers.procs import ServerProcess, gateway_server

OLD = ("old-access-key", "old-secret-key-0123456789")
NEW = ("new-access-key", "new-secret-key-9876543210")
LIVE = "/_s3bridge/health/live"


def write_config(path: Path, data: Path, pair: tuple[str, str], **server: Any) -> None:
    doc = {
        "credentials": [{"access_key": pair[0], "secret_key": pair[1]}],
        "backends": {"local": {"type": "fs", "root": str(data), "fsync": False}},
        "server": server,
    }
    path.write_text(yaml.safe_dump(doc))


def log_of(server: ServerProcess) -> str:
    assert server.log_path is not None
    return server.log_path.read_text(errors="replace")


def wait_for(server: ServerProcess, words: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while log_of(server).count(words) < count:
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.05)


def hup_and_wait(server: ServerProcess, words: str, times: int = 1) -> None:
    """SIGHUP, then wait for the ``times``-th new log line holding ``words``."""
    seen = log_of(server).count(words)
    server.signal(signal.SIGHUP)
    wait_for(server, words, seen + times)


def refused_code(url: str, pair: tuple[str, str], **kw: Any) -> str | None:
    try:
        boto3_client(url, pair, **kw).list_buckets()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_sighup_reloads_key_pairs_and_keeps_connections(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    write_config(config, tmp_path / "data", OLD)
    with gateway_server(
        config=config, log_path=tmp_path / "gw.log", env={"S3BRIDGE_ACCESS_KEY": ""}
    ) as server:
        boto3_client(server.url, OLD).create_bucket(Bucket="kept")
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        kept.request("GET", LIVE)
        assert kept.getresponse().read() == b'{"status":"ok"}'
        before = kept.sock.getsockname()

        write_config(config, tmp_path / "data", NEW)
        hup_and_wait(server, "configuration reloaded")
        assert refused_code(server.url, OLD) == "InvalidAccessKeyId"
        assert [b["Name"] for b in boto3_client(server.url, NEW).list_buckets()["Buckets"]] == ["kept"]
        status = httpx.get(server.url + "/_s3bridge/status.json").json()
        assert status["configuration"]["key_pairs"] == [NEW[0]]
        kept.request("GET", LIVE)  # the same connection, opened before the reload
        assert kept.getresponse().read() == b'{"status":"ok"}'
        assert kept.sock.getsockname() == before

        config.write_text("credentials: [unclosed\n")
        hup_and_wait(server, "reload refused")
        assert refused_code(server.url, NEW) is None
        assert refused_code(server.url, OLD) == "InvalidAccessKeyId"
        kept.request("GET", LIVE)
        assert kept.getresponse().status == 200
        assert kept.sock.getsockname() == before
        kept.close()
    refusals = [line for line in log_of(server).splitlines() if "reload refused" in line]
    assert len(refusals) == 1 and "is not valid YAML" in refusals[0]


def test_sighup_with_workers_reloads_every_worker(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    write_config(config, tmp_path / "data", OLD)
    server = gateway_server(
        config=config,
        extra_args=["--workers", "2"],
        log_path=tmp_path / "gw.log",
        env={"S3BRIDGE_ACCESS_KEY": ""},
    )
    with server:
        wait_for(server, "Application startup complete", 2)
        write_config(config, tmp_path / "data", NEW)
        hup_and_wait(server, "configuration reloaded", times=2)
        for _ in range(10):  # new connections each: the kernel spreads them over both workers
            assert refused_code(server.url, OLD) == "InvalidAccessKeyId"
            assert refused_code(server.url, NEW) is None
        assert "Received SIGHUP, restarting" not in log_of(server)


def peer_serial(port: int, ca: Path) -> int:
    """The serial number of the certificate a new TLS handshake gets."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def test_sighup_reloads_the_tls_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    first, second = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    first.private_key_and_cert_chain_pem.write_to_path(str(cert))
    first.private_key_pem.write_to_path(str(key))
    config = tmp_path / "gateway.yaml"
    write_config(config, tmp_path / "data", OLD, certfile=str(cert), keyfile=str(key))
    server = gateway_server(config=config, log_path=tmp_path / "gw.log", scheme="https")
    serials = []
    with server:
        serials.append(peer_serial(server.port, tmp_path / "ca.pem"))
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        kept = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        kept.request("GET", LIVE)
        assert kept.getresponse().read() == b'{"status":"ok"}'

        second.private_key_and_cert_chain_pem.write_to_path(str(cert))
        second.private_key_pem.write_to_path(str(key))
        hup_and_wait(server, "configuration reloaded")
        serials.append(peer_serial(server.port, tmp_path / "ca.pem"))
        kept.request("GET", LIVE)  # the TLS connection made before the swap
        assert kept.getresponse().status == 200

        key.write_text("not a key\n")
        hup_and_wait(server, "reload refused")
        serials.append(peer_serial(server.port, tmp_path / "ca.pem"))
        kept.close()
    assert serials[0] != serials[1] and serials[1] == serials[2]


@pytest.fixture(autouse=True)
def _no_default_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S3BRIDGE_ACCESS_KEY", raising=False)
