"""Requests shaped to slip past the gateway, against the real process: request targets that name no
bucket as uvicorn parses them, and keys XML cannot carry as boto3 lists them. Every method and key pair
on those targets, and the limited key outside its buckets: ``tests/inproc/test_hostile_requests.py``.

Each case was found by probing from outside and answered 500, or 200 while doing nothing; each must
get the S3 error AWS sends, never a traceback and never a silent success.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.helpers.answers import assert_s3_error
from tests.helpers.clients import boto3_client
from tests.helpers.procs import ServerProcess, gateway_server

ADMIN = ("hostile-admin", "hostile-admin-secret-0123456789")
LIMITED = ("hostile-limited", "hostile-limited-secret-0123456789")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("hostile")
    config = {
        "credentials": [
            {"access_key": ADMIN[0], "secret_key": ADMIN[1]},
            {
                "access_key": LIMITED[0],
                "secret_key": LIMITED[1],
                "buckets": [{"bucket": "mine-*", "rights": ["read", "write", "list"]}],
            },
        ],
        "backends": {"local": {"type": "fs", "root": str(base / "data")}},
    }
    path = base / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    server = gateway_server(config=path, log_path=base / "gateway.log")
    server.start()
    admin = boto3_client(server.url, ADMIN)
    admin.create_bucket(Bucket="b-one")
    admin.put_object(Bucket="b-one", Key="secret.txt", Body=b"top secret")
    admin.create_bucket(Bucket="mine-1")
    yield server
    server.stop()


def send_signed(server: ServerProcess, pair: tuple[str, str], method: str, raw_target: str) -> httpx.Response:
    """Send ``raw_target`` byte for byte (no client normalises it), signed by botocore's SigV4 signer."""
    req = AWSRequest(method=method, url=f"{server.url}{raw_target}", data=b"")
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    S3SigV4Auth(Credentials(*pair), "s3", "us-east-1").add_auth(req)
    request = httpx.Request(method, server.url, headers=dict(req.headers.items()))
    request.url = request.url.copy_with(raw_path=raw_target.encode())
    with httpx.Client(timeout=10) as http:
        return http.send(request)


# -- a request target that names no bucket ------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("target", ["//x", "//b-one/secret.txt", "//b-one", "//"])
def test_empty_bucket_segment_is_refused(gateway: ServerProcess, method: str, target: str) -> None:
    """Through uvicorn's own parsing of the request line (every method and key: in-process)."""
    response = send_signed(gateway, ADMIN, method, target)
    assert_s3_error(response, 400, "InvalidBucketName")
    assert b"top secret" not in response.content
    # nothing was written or removed by it
    assert boto3_client(gateway.url, ADMIN).get_object(Bucket="b-one", Key="secret.txt")["Body"].read() == (
        b"top secret"
    )


# -- keys with characters XML 1.0 cannot carry --------------------------------------------------------
CONTROL_KEYS = ["ctl/a\x01b", "ctl/us\x1fz", "ctl/vt\x0b", "ctl/esc\x1b[0m", "ctl/plain"]


def test_control_character_keys_list_for_everyone(gateway: ServerProcess) -> None:
    s3 = boto3_client(gateway.url, ADMIN)
    bucket = f"ctl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    for key in CONTROL_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    # (raw: botocore cannot parse an answer naming such a key, from S3 or from us, without encoding-type)
    created = send_signed(gateway, ADMIN, "POST", f"/{bucket}/up%01load?uploads")
    assert created.status_code == 200 and b"<Key>up&#x1;load</Key>" in created.content
    # boto3 lists with encoding-type=url: every key comes back exactly
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == sorted(CONTROL_KEYS)
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == sorted(CONTROL_KEYS)
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == sorted(CONTROL_KEYS)
    uploads = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")["Uploads"]
    assert [u["Key"] for u in uploads] == ["up%01load"]  # botocore decodes only the listings it asked for
    for key in CONTROL_KEYS:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    # without encoding-type the answer carries them as character references, as S3 does, never a 500
    for query in ("list-type=2", "", "versions", "uploads"):
        response = send_signed(gateway, ADMIN, "GET", f"/{bucket}?{query}" if query else f"/{bucket}")
        assert response.status_code == 200, response.text
        assert b"&#x1;" in response.content
        assert b"\x01" not in response.content
    s3.abort_multipart_upload(Bucket=bucket, Key="up\x01load", UploadId=uploads[0]["UploadId"])
    # an error naming such a key is an XML document too
    missing = send_signed(gateway, ADMIN, "GET", f"/{bucket}/gone%01key")
    assert missing.status_code == 404 and b"<Code>NoSuchKey</Code>" in missing.content


def test_gateway_log_has_no_traceback(gateway: ServerProcess) -> None:
    assert gateway.log_path is not None
    assert "Traceback" not in gateway.log_path.read_text(errors="replace")


def test_no_assert_guards_a_request() -> None:
    """``python -O`` strips asserts: the answers above must not depend on them."""
    repo = Path(__file__).resolve().parents[2]
    offenders = [
        f"{path.relative_to(repo)}:{n}"
        for package in ("gateway", "backends")
        for path in (repo / package).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip().startswith("assert ")
    ]
    assert offenders == []


# -- response-* overrides no header can carry (found by tests/e2e/test_fuzz.py) -----------------------
@pytest.mark.parametrize("value", ["a%0Ab", "a%0D%0AX-Injected%3A%201", "nul%00", "del%7F", "%E4%B8%AD"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unrepresentable_response_override_is_invalid_argument(
    gateway: ServerProcess, value: str, method: str
) -> None:
    """A control character cut the connection after a traceback; a character past ISO-8859-1 answered
    500. Both are InvalidArgument, checked before the object is opened."""
    response = send_signed(gateway, ADMIN, method, f"/b-one/secret.txt?response-content-type={value}")
    assert_s3_error(response, 400, "InvalidArgument")
    assert "x-injected" not in response.headers
    ok = send_signed(
        gateway, ADMIN, method, "/b-one/secret.txt?response-content-type=text%2Fplain%3B%20x%3D%C3%A9"
    )
    assert ok.status_code == 200 and ok.headers["content-type"] == "text/plain; x=\u00e9"
