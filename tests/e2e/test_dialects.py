"""Every client's dialect against the real gateway: boto3 with default checksums (aws-chunked bodies with
trailing CRC32 over TLS) and with ``when_required``, over http and over TLS; the aws-cli over TLS;
minio-py; rclone; presigned URLs (SigV2 and SigV4) used with plain httpx."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client, minio_client, sha256_file, write_random
from tests.helpers.procs import ServerProcess

MiB = 1024 * 1024
SIZES = [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1]


def _clients(gateway: ServerProcess, tls: tuple[ServerProcess, Path]) -> dict[str, object]:
    server, ca = tls
    return {
        "http-default": make_client(gateway.url, checksums="when_supported"),
        "http-when_required": make_client(gateway.url),
        "https-default": make_client(server.url, checksums="when_supported", verify=str(ca)),
        "https-when_required": make_client(server.url, verify=str(ca)),
    }


@pytest.mark.parametrize(
    "mode", ["http-default", "http-when_required", "https-default", "https-when_required"]
)
def test_boto3_matrix(gateway, tls, mode: str) -> None:
    client = _clients(gateway, tls)[mode]
    bucket = f"mx-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    for size in SIZES:
        data = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
        data = data[:size]
        key = f"obj-{size}"
        client.put_object(Bucket=bucket, Key=key, Body=data)  # type: ignore[attr-defined]
        got = client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")  # type: ignore[attr-defined]
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest(), (mode, size)
        assert got["ContentLength"] == size
        assert "aws-chunked" not in got.get("ContentEncoding", "")
        if mode.endswith("default"):
            assert got.get("ChecksumCRC32"), "the CRC32 sent with the upload is stored and returned"
        # managed multipart upload (8 MiB parts, CRC32 per part in default mode)
    big = io.BytesIO(hashlib.sha256(b"big").digest() * (18 * MiB // 32))
    client.upload_fileobj(big, bucket, "multi")  # type: ignore[attr-defined]
    out = io.BytesIO()
    client.download_fileobj(bucket, "multi", out)  # type: ignore[attr-defined]
    assert out.getvalue() == big.getvalue()


def test_boto3_64mib_over_tls_default_checksums(tls, tmp_path: Path) -> None:
    server, ca = tls
    client = make_client(server.url, checksums="when_supported", verify=str(ca))
    bucket = f"big-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    src = write_random(tmp_path / "src", 64 * MiB, seed=9)
    client.upload_file(str(src), bucket, "big")
    client.download_file(bucket, "big", str(tmp_path / "back"))
    assert sha256_file(tmp_path / "back") == sha256_file(src)


def test_aws_cli_over_tls(aws, tls, tmp_path: Path) -> None:
    server, ca = tls
    bucket = f"clitls-{uuid.uuid4().hex[:8]}"
    aws("s3", "mb", f"s3://{bucket}", url=server.url, env={"AWS_CA_BUNDLE": str(ca)})
    src = write_random(tmp_path / "f", 9 * MiB + 5, seed=4)
    aws("s3", "cp", str(src), f"s3://{bucket}/f", url=server.url, env={"AWS_CA_BUNDLE": str(ca)})
    aws("s3", "cp", f"s3://{bucket}/f", str(tmp_path / "g"), url=server.url, env={"AWS_CA_BUNDLE": str(ca)})
    assert sha256_file(tmp_path / "g") == sha256_file(src)


@pytest.mark.parametrize("signature", ["s3", "s3v4"])
def test_presigned_urls(gateway, s3, bucket: str, signature: str) -> None:
    """boto3 presigns with SigV2 ("s3") for a custom endpoint by default, or SigV4; plain httpx uses them."""
    signer = make_client(gateway.url, signature_version=signature)
    put_url = signer.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre sign+d"}, ExpiresIn=300
    )
    assert ("X-Amz-Signature" in put_url) == (signature == "s3v4")
    r = httpx.put(put_url, content=b"presigned body")
    assert r.status_code == 200, r.text
    get_url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre sign+d"}, ExpiresIn=300
    )
    r = httpx.get(get_url)
    assert r.status_code == 200 and r.content == b"presigned body"
    head_url = signer.generate_presigned_url(
        "head_object", Params={"Bucket": bucket, "Key": "pre sign+d"}, ExpiresIn=300
    )
    assert httpx.head(head_url).status_code == 200
    tampered = get_url.replace("pre%20sign", "pre%20sigm")
    assert httpx.get(tampered).status_code == 403
    expired = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre sign+d"}, ExpiresIn=1
    )
    time.sleep(2.1)
    r = httpx.get(expired)
    assert r.status_code == 403 and b"AccessDenied" in r.content and b"expired" in r.content
    delete_url = signer.generate_presigned_url(
        "delete_object", Params={"Bucket": bucket, "Key": "pre sign+d"}, ExpiresIn=300
    )
    assert httpx.delete(delete_url).status_code == 204
    assert httpx.get(get_url).status_code == 404


def test_presigned_upload_part(gateway, s3, bucket: str) -> None:
    signer = make_client(gateway.url, signature_version="s3v4")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    url = signer.generate_presigned_url(
        "upload_part", Params={"Bucket": bucket, "Key": "mp", "UploadId": uid, "PartNumber": 1}, ExpiresIn=300
    )
    r = httpx.put(url, content=b"part one")
    assert r.status_code == 200
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r.headers["etag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part one"


def test_sigv2_header_auth(gateway, bucket: str) -> None:
    client = make_client(gateway.url, signature_version="s3")
    client.put_object(Bucket=bucket, Key="v2", Body=b"signed with v2")
    assert client.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"signed with v2"
    assert [o["Key"] for o in client.list_objects(Bucket=bucket)["Contents"]] == ["v2"]


def test_minio_py(gateway, bucket: str) -> None:
    client = minio_client(gateway.port)
    data = hashlib.sha256(b"minio").digest() * (11 * MiB // 32)
    client.put_object(
        bucket, "m/obj", io.BytesIO(data), len(data), part_size=5 * MiB, metadata={"x-amz-meta-k": "v"}
    )
    got = client.get_object(bucket, "m/obj")
    try:
        assert got.read() == data
    finally:
        got.close()
        got.release_conn()
    stat = client.stat_object(bucket, "m/obj")
    assert stat.size == len(data) and stat.etag.endswith("-3")
    assert [o.object_name for o in client.list_objects(bucket, prefix="m/")] == ["m/obj"]
    client.remove_object(bucket, "m/obj")


@pytest.mark.skipif(
    shutil.which("rclone") is None, reason="rclone is not installed (Debian package 'rclone')"
)
def test_rclone(gateway, bucket: str, tmp_path: Path) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[gw]\ntype = s3\nprovider = Other\n"
        f"access_key_id = {ACCESS_KEY}\nsecret_access_key = {SECRET_KEY}\n"
        f"endpoint = {gateway.url}\nregion = us-east-1\nforce_path_style = true\n"
    )
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    write_random(src / "a.bin", 3 * MiB + 1, seed=5)
    write_random(src / "sub" / "b c.bin", 1234, seed=6)
    base = ["rclone", "--config", str(conf), "--low-level-retries", "1", "--retries", "1"]
    # rclone 1.60 refuses to start when AWS_CA_BUNDLE is set (even for http endpoints)
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}

    def rclone(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=300, env=env)
        assert not check or proc.returncode == 0, proc.stderr
        return proc

    rclone("copy", str(src), f"gw:{bucket}/r")
    out = rclone("lsf", "-R", f"gw:{bucket}/r")
    assert set(out.stdout.split("\n")) >= {"a.bin", "sub/", "sub/b c.bin"}
    rclone("copy", f"gw:{bucket}/r", str(tmp_path / "back"))
    assert sha256_file(tmp_path / "back" / "sub" / "b c.bin") == sha256_file(src / "sub" / "b c.bin")
    assert sha256_file(tmp_path / "back" / "a.bin") == sha256_file(src / "a.bin")
    rclone("check", str(src), f"gw:{bucket}/r")
