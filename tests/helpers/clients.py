"""Real clients pointed at a gateway: boto3 clients, the aws-cli's environment, and test files.

One boto3 builder for every test: path-style addressing, one attempt (a test wants the first answer, not
the SDK's retry of it), and the checksum mode the test asks for.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

#: The key pair of the end-to-end gateways and of the in-process gateway.
ACCESS_KEY = "e2e-access-key"
SECRET_KEY = "e2e-secret-key-0123456789abcdef"


def boto3_client(
    url: str,
    pair: tuple[str, str] = (ACCESS_KEY, SECRET_KEY),
    *,
    checksums: str = "when_required",
    verify: bool | str = True,
    retries: dict[str, Any] | None = None,
    **config: Any,
) -> Any:
    """boto3's S3 client for ``url`` signing with ``pair``; ``config`` goes to botocore's Config, and
    ``retries`` replaces the single attempt."""
    settings = Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation=checksums,
        response_checksum_validation=checksums,
        retries=retries or {"total_max_attempts": 1, "mode": "standard"},
        **config,
    )
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=pair[0],
        aws_secret_access_key=pair[1],
        region_name="us-east-1",
        config=settings,
        verify=verify,
    )


def make_client(url: str, *, checksums: str = "when_required", verify: bool | str = True, **kw: Any) -> Any:
    """boto3 with the end-to-end key pair."""
    return boto3_client(url, checksums=checksums, verify=verify, **kw)


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a command-line client signing with the end-to-end key pair, no user config."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    env.update(extra or {})
    return env


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_random(path: Path, size: int, seed: int = 0) -> Path:
    """A file of ``size`` pseudo-random bytes, written in blocks (never whole in memory)."""
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rng.randbytes(n))
            left -= n
    return path


def minio_client(port: int) -> Any:
    """minio-py pointed at a gateway on loopback ``port`` with the e2e key pair (no region lookup)."""
    from minio import Minio

    return Minio(
        f"127.0.0.1:{port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False, region="us-east-1"
    )
