"""End-to-end fixtures: a real ``s3bridge serve`` process on loopback and real clients pointed at it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, cli_env, make_client
from tests.helpers.procs import ServerProcess, gateway_server


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("gateway")
    server = gateway_server(
        data_dir=base / "data", access_key=ACCESS_KEY, secret_key=SECRET_KEY, log_path=base / "gateway.log"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """The gateway over TLS with a throw-away CA; yields the server and the CA bundle path."""
    base = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(base / "server.pem"))
    cert.private_key_pem.write_to_path(str(base / "server.key"))
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    server = gateway_server(
        data_dir=base / "data",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        extra_args=["--certfile", str(base / "server.pem"), "--keyfile", str(base / "server.key")],
        log_path=base / "gateway.log",
        scheme="https",
    )
    server.start()
    yield server, base / "ca.pem"
    server.stop()


@pytest.fixture(scope="session")
def s3(gateway: ServerProcess):  # type: ignore[no-untyped-def]
    """boto3 with ``when_required`` checksums: plain signed bodies, Content-MD5 where required."""
    return make_client(gateway.url)


@pytest.fixture(scope="session")
def s3_default(gateway: ServerProcess):  # type: ignore[no-untyped-def]
    """boto3 with its default checksum settings (CRC32 on every upload)."""
    return make_client(gateway.url, checksums="when_supported")


@pytest.fixture
def bucket(s3) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except Exception:  # best effort: a test may have left the gateway unreachable
        pass


@pytest.fixture(scope="session")
def aws(gateway: ServerProcess):  # type: ignore[no-untyped-def]
    """Run the aws-cli (v1, from PyPI) against the gateway; returns the CompletedProcess."""

    def run(*args: str, check: bool = True, env: dict[str, str] | None = None, url: str | None = None):  # type: ignore[no-untyped-def]
        argv = [sys.executable, "-m", "awscli", "--endpoint-url", url or gateway.url, *args]
        proc = subprocess.run(argv, env=cli_env(env), capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def s3cmd(gateway: ServerProcess, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    exe = shutil.which("s3cmd")
    if exe is None:
        pytest.fail("s3cmd is not installed: pip install s3cmd (the test extra installs it)")
    cfg = tmp_path_factory.mktemp("s3cmd") / "s3cfg"
    host = f"127.0.0.1:{gateway.port}"
    cfg.write_text(
        "[default]\n"
        f"access_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n"
        f"host_base = {host}\nhost_bucket = {host}\n"
        "use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n"
        "check_ssl_certificate = False\n"
    )

    def run(*args: str, check: bool = True):  # type: ignore[no-untyped-def]
        proc = subprocess.run([exe, "-c", str(cfg), *args], capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"s3cmd {' '.join(args)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}"
            )
        return proc

    return run
