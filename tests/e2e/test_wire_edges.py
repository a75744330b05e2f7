"""Wire-level edges against the real process: uploads cut off mid-body and several worker processes.

(Virtual-hosted addressing, a reverse proxy's host and path prefix and the request shapes clients send
are answers of the app: ``tests/inproc/test_addressing.py``.)"""

from __future__ import annotations

import hashlib
import socket
import uuid
from pathlib import Path

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from backends.fs.tempdirs import LOCK_NAME
from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.procs import gateway_server

CREDS = Credentials(ACCESS_KEY, SECRET_KEY)


def signed(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> AWSRequest:
    """A request signed by botocore's own SigV4 signer for ``url`` (the URL the client believes in)."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    return req


def send_to(port: int, req: AWSRequest, host: str) -> httpx.Response:
    """Send a signed request to 127.0.0.1:port whatever its URL says, keeping the Host it was signed for."""
    url = httpx.URL(req.url)
    target = url.copy_with(scheme="http", host="127.0.0.1", port=port)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = host
    return httpx.request(req.method, target, headers=headers, content=req.body or b"")


def _data_litter(data_dir: Path) -> list[Path]:
    """Files under the gateway's state directory but the live process's temp-directory lock and the
    buckets' listing indexes (fs nameindex: made with the bucket, not by an upload)."""
    internal = data_dir / ".s3bridge"
    found = [p for p in internal.rglob("*") if p.is_file()] if internal.exists() else []
    return [p for p in found if p.name != LOCK_NAME and p.parent != internal / "index"]


def test_upload_cut_off_mid_body_leaves_nothing(gateway, s3, bucket: str, tmp_path: Path) -> None:
    body = b"x" * (2 * 1024 * 1024)
    req = signed("PUT", f"{gateway.url}/{bucket}/cut", body)
    head = f"PUT /{bucket}/cut HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    head += f"Host: 127.0.0.1:{gateway.port}\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(head.encode() + body[: len(body) // 2])
    # the gateway notices the disconnect; nothing becomes visible
    for _ in range(50):
        try:
            s3.head_object(Bucket=bucket, Key="cut")
            pytest.fail("a cut-off upload became visible")
        except s3.exceptions.ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        import time

        time.sleep(0.02)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_upload_cut_off_leaves_no_litter(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with gateway_server(data_dir=data, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as server:
        client = make_client(server.url)
        client.create_bucket(Bucket="litter")
        body = b"y" * (3 * 1024 * 1024)
        req = signed("PUT", f"{server.url}/litter/obj", body)
        head = "PUT /litter/obj HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
        head += f"Host: 127.0.0.1:{server.port}\r\nContent-Length: {len(body)}\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(head.encode() + body[:1_000_000])
        import time

        deadline = time.monotonic() + 10
        while _data_litter(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _data_litter(data) == []
        assert client.list_objects_v2(Bucket="litter")["KeyCount"] == 0


def test_several_workers_share_nothing(tmp_path: Path) -> None:
    """With --workers 2, an upload through one worker completes through the other."""
    with gateway_server(
        data_dir=tmp_path / "data",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        extra_args=["--workers", "2"],
    ) as server:
        bucket = f"w-{uuid.uuid4().hex[:8]}"
        clients = [make_client(server.url) for _ in range(4)]  # separate connection pools
        clients[0].create_bucket(Bucket=bucket)
        uid = clients[1].create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
        parts = []
        for n in range(1, 4):
            body = bytes([n]) * (5 * 1024 * 1024 if n < 3 else 10)
            etag = clients[n % 4].upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n, Body=body)[
                "ETag"
            ]
            parts.append({"PartNumber": n, "ETag": etag})
        clients[3].complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": parts}
        )
        assert clients[2].head_object(Bucket=bucket, Key="k")["ContentLength"] == 10 * 1024 * 1024 + 10
