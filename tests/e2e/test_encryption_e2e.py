"""Server-side encryption end to end: the real gateway over TLS with an encrypt backend on fs, driven by
boto3 and the aws-cli; and ``s3bridge rotate-key`` as an operator runs it."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, cli_env, make_client, write_random
from tests.helpers.procs import REPO, ServerProcess, gateway_server

KEY = bytes(range(32))
OTHER = bytes(range(100, 132))
MiB = 1024 * 1024


def config(data: Path, current: str, keys: dict[str, str]) -> dict[str, Any]:
    """fs at ``data`` behind an encrypt layer; ``keys`` maps key ids to key files, ``current`` wraps."""
    return {
        "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
        "backends": {
            "sealed": {
                "type": "encrypt",
                "backend": "disk",
                "key_id": current,
                "master_key_file": keys[current],
                "old_keys": [{"id": k, "key_file": f} for k, f in keys.items() if k != current],
            },
            "disk": {"type": "fs", "root": str(data), "fsync": False},
        },
        "routes": [{"bucket": "*", "backend": "sealed"}],
    }


class Tls:
    def __init__(self, base: Path):
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_and_cert_chain_pem.write_to_path(str(base / "server.pem"))
        cert.private_key_pem.write_to_path(str(base / "server.key"))
        ca.cert_pem.write_to_path(str(base / "ca.pem"))
        self.args = ["--certfile", str(base / "server.pem"), "--keyfile", str(base / "server.key")]
        self.ca = base / "ca.pem"


def serve(base: Path, tls: Tls, doc: dict[str, Any], name: str) -> ServerProcess:
    path = base / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return gateway_server(
        config=path, extra_args=tls.args, log_path=base / f"{name}.log", scheme="https"
    ).start()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path, Tls]]:
    base = tmp_path_factory.mktemp("sse")
    (base / "k1.key").write_text(os.urandom(32).hex())
    tls = Tls(base)
    server = serve(base, tls, config(base / "data", "k1", {"k1": str(base / "k1.key")}), "gw")
    try:
        yield server, base, tls
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3(site: tuple[ServerProcess, Path, Tls]) -> Any:
    server, _, tls = site
    return make_client(server.url, verify=str(tls.ca))


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    name = "sse-" + hashlib.md5(request.node.nodeid.encode()).hexdigest()[:10]
    s3.create_bucket(Bucket=name)
    return name


def customer(key: bytes, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": key}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]


def test_sse_s3_boto3(s3: Any, bucket: str, site: tuple[ServerProcess, Path, Tls]) -> None:
    put = s3.put_object(Bucket=bucket, Key="doc", Body=b"plain words" * 100, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    default = s3.put_object(Bucket=bucket, Key="default", Body=b"plain words" * 100)
    assert default["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert (got["Body"].read(), got["ServerSideEncryption"], got["ETag"]) == (
        b"plain words" * 100,
        "AES256",
        put["ETag"],
    )
    assert s3.head_object(Bucket=bucket, Key="doc")["ContentLength"] == 1100
    assert s3.get_object(Bucket=bucket, Key="doc", Range="bytes=6-10")["Body"].read() == b"words"
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("default", 1100), ("doc", 1100)]
    _, base, _ = site
    assert not any(b"plain words" in p.read_bytes() for p in (base / "data").rglob("*") if p.is_file())
    config = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert config["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_sse_s3_etags_and_conditions_boto3(s3: Any, bucket: str) -> None:
    """S3's ETag for SSE-S3 (the plaintext's MD5; MD5 of part MD5s for multipart) on every answer, and
    the conditions a client sends compared with it."""
    data = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="e", Body=data)
    etag = put["ETag"]
    assert etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.head_object(Bucket=bucket, Key="e")["ETag"] == etag
    assert s3.get_object(Bucket=bucket, Key="e", IfMatch=etag)["Body"].read() == data
    with pytest.raises(ClientError) as unmodified:
        s3.head_object(Bucket=bucket, Key="e", IfNoneMatch=etag)
    assert error(unmodified)[0] == 304
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=bucket, Key="e", IfMatch='"' + "0" * 32 + '"')
    assert error(failed) == (412, "PreconditionFailed")
    copied = s3.copy_object(
        Bucket=bucket, Key="e2", CopySource={"Bucket": bucket, "Key": "e"}, CopySourceIfMatch=etag
    )
    assert copied["CopyObjectResult"]["ETag"] == etag
    with pytest.raises(ClientError) as stale:
        s3.put_object(Bucket=bucket, Key="e", Body=b"v2", IfMatch='"' + "1" * 32 + '"')
    assert error(stale) == (412, "PreconditionFailed")
    s3.put_object(Bucket=bucket, Key="e", Body=b"v2", IfMatch=etag)
    # parts of any size S3 accepts: 5 MiB + 1, then an odd last part
    parts = [os.urandom(5 * MiB + 1), os.urandom(5 * MiB + 77_777), os.urandom(12_345)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n, Body=b)["ETag"],
        }
        for n, b in enumerate(parts, start=1)
    ]
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": done}
    )
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert result["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    whole = b"".join(parts)
    listed = {o["Key"]: (o["Size"], o["ETag"]) for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed["mp"] == (len(whole), result["ETag"]) and listed["e2"] == (len(data), etag)
    edge = len(parts[0])
    cut = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={edge - 5}-{edge + 4}", IfMatch=result["ETag"])
    assert cut["Body"].read() == whole[edge - 5 : edge + 5]
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["ContentLength"] == len(parts[1]) and second["Body"].read() == parts[1]
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == whole


def test_sse_c_boto3(s3: Any, bucket: str) -> None:
    data = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="c", Body=data, **customer(KEY))
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(KEY).digest()).decode()
    assert put["ETag"].strip('"') != hashlib.md5(data).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="c", **customer(KEY))
    assert got["Body"].read() == data and got["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]
    part = s3.get_object(Bucket=bucket, Key="c", Range="bytes=65000-200000", **customer(KEY))
    assert part["Body"].read() == data[65000:200001]
    assert s3.head_object(Bucket=bucket, Key="c", **customer(KEY))["ContentLength"] == len(data)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="c")
    assert error(missing) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as wrong:
        s3.get_object(Bucket=bucket, Key="c", **customer(OTHER))
    assert error(wrong) == (403, "AccessDenied")
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="c")
    assert error(head)[0] == 400
    copied = s3.copy_object(
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "c"},
        **customer(KEY, "CopySource"),
        **customer(OTHER),
    )
    assert copied["SSECustomerAlgorithm"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="copy", **customer(OTHER))["Body"].read() == data


def test_sse_c_multipart_boto3(s3: Any, bucket: str, tmp_path: Path) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", **customer(KEY))
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    done = []
    for n, body in enumerate(parts, start=1):
        with pytest.raises(ClientError) as without:
            s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=n, Body=body)
        assert error(without) == (400, "InvalidRequest")
        answer = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=n, Body=body, **customer(KEY)
        )
        assert answer["SSECustomerAlgorithm"] == "AES256"
        done.append({"PartNumber": n, "ETag": answer["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": done}, **customer(KEY)
    )
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp", **customer(KEY))["Body"].read() == whole
    cut = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}", **customer(KEY))
    assert cut["Body"].read() == whole[5 * MiB - 10 : 5 * MiB + 10]
    # the transfer manager: multipart upload and ranged parallel download with the key
    source = write_random(tmp_path / "big.bin", 12 * MiB, seed=3)
    small = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(source), bucket, "big", ExtraArgs=customer(KEY), Config=small)
    s3.download_file(bucket, "big", str(tmp_path / "back.bin"), ExtraArgs=customer(KEY), Config=small)
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()


def aws(server: ServerProcess, tls: Tls, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--ca-bundle", str(tls.ca), *args]
    proc = subprocess.run(argv, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def test_aws_cli_sse_and_sse_c(
    site: tuple[ServerProcess, Path, Tls], bucket: str, s3: Any, tmp_path: Path
) -> None:
    server, _, tls = site
    source = write_random(tmp_path / "file.bin", 9 * MiB, seed=5)  # two parts at the cli's 8 MiB
    aws(server, tls, "s3", "cp", str(source), f"s3://{bucket}/sse", "--sse", "AES256")
    assert s3.head_object(Bucket=bucket, Key="sse")["ServerSideEncryption"] == "AES256"
    aws(server, tls, "s3", "cp", f"s3://{bucket}/sse", str(tmp_path / "sse.out"))
    assert (tmp_path / "sse.out").read_bytes() == source.read_bytes()
    (tmp_path / "key.bin").write_bytes(KEY)
    key_arg = f"fileb://{tmp_path / 'key.bin'}"
    aws(server, tls, "s3", "cp", str(source), f"s3://{bucket}/c", "--sse-c", "AES256", "--sse-c-key", key_arg)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="c")
    aws(
        server,
        tls,
        "s3",
        "cp",
        f"s3://{bucket}/c",
        str(tmp_path / "c.out"),
        "--sse-c",
        "AES256",
        "--sse-c-key",
        key_arg,
    )
    assert (tmp_path / "c.out").read_bytes() == source.read_bytes()


def test_rotate_key_cli(site: tuple[ServerProcess, Path, Tls], s3: Any, bucket: str) -> None:
    server, base, tls = site
    s3.put_object(Bucket=bucket, Key="old", Body=b"written under k1")
    (base / "k2.key").write_text(base64.b64encode(os.urandom(32)).decode())
    keys = {"k1": str(base / "k1.key"), "k2": str(base / "k2.key")}
    rotating = base / "rotate.yaml"
    rotating.write_text(yaml.safe_dump(config(base / "data", "k2", keys)))
    argv = [sys.executable, "-m", "gateway", "rotate-key", "--config", str(rotating), "--bucket", bucket]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "1 rewrapped" in proc.stdout and "0 failed" in proc.stdout
    only_k2 = serve(base, tls, config(base / "data", "k2", {"k2": keys["k2"]}), "k2-only")
    try:
        fresh = make_client(only_k2.url, verify=str(tls.ca))
        assert fresh.get_object(Bucket=bucket, Key="old")["Body"].read() == b"written under k1"
    finally:
        only_k2.stop()


def test_post_form_sse_s3_and_sse_c(s3: Any, bucket: str, site: tuple[ServerProcess, Path, Tls]) -> None:
    """A browser form's SSE fields are its SSE request: SSE-S3 and SSE-C forms store ciphertext and answer
    the SSE headers; the SSE-C object then reads only with its key."""
    import httpx

    _, base, tls = site
    secret = b"form plaintext " * 50
    sse_c = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
    }
    for key, fields in (("form-s3", {"x-amz-server-side-encryption": "AES256"}), ("form-c", sse_c)):
        form = s3.generate_presigned_post(
            bucket, key, Fields=fields, Conditions=[{n: v} for n, v in fields.items()]
        )
        files = {"file": ("f.txt", secret, "application/octet-stream")}
        answer = httpx.post(form["url"], data=form["fields"], files=files, verify=str(tls.ca), timeout=30)
        assert answer.status_code == 204, answer.text
        if key == "form-s3":
            assert answer.headers["x-amz-server-side-encryption"] == "AES256"
            got = s3.get_object(Bucket=bucket, Key=key)
            assert (got["Body"].read(), got["ServerSideEncryption"]) == (secret, "AES256")
        else:
            assert (
                answer.headers["x-amz-server-side-encryption-customer-key-MD5"]
                == sse_c["x-amz-server-side-encryption-customer-key-MD5"]
            )
            assert s3.get_object(Bucket=bucket, Key=key, **customer(KEY))["Body"].read() == secret
            with pytest.raises(ClientError) as missing:
                s3.get_object(Bucket=bucket, Key=key)
            assert error(missing) == (400, "InvalidRequest")
    assert not any(b"form plaintext" in p.read_bytes() for p in (base / "data").rglob("*") if p.is_file())


def test_post_form_without_sse_fields_is_sse_s3(
    s3: Any, bucket: str, site: tuple[ServerProcess, Path, Tls]
) -> None:
    """A form with no SSE field on an encrypting bucket is SSE-S3 (the default, and what a bucket's
    default encryption asks): the answer says AES256, the store holds ciphertext, reads give the bytes
    and S3's ETag (the plaintext's MD5); the file's length is never declared, as in every browser form."""
    import httpx

    _, base, tls = site
    sizes = {"form-small": 1000, "form-large": 3 * 1024 * 1024 + 7}
    for configured in (False, True):
        if configured:
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        for key, size in sizes.items():
            secret = (b"form default plaintext %d " % configured) * (size // 24 + 1)
            secret = secret[:size]
            form = s3.generate_presigned_post(bucket, key)
            files = {"file": ("f.bin", secret, "application/octet-stream")}
            answer = httpx.post(form["url"], data=form["fields"], files=files, verify=str(tls.ca), timeout=60)
            assert answer.status_code == 204, answer.text
            assert answer.headers["x-amz-server-side-encryption"] == "AES256"
            assert answer.headers["ETag"] == f'"{hashlib.md5(secret).hexdigest()}"'
            got = s3.get_object(Bucket=bucket, Key=key)
            assert (got["Body"].read(), got["ServerSideEncryption"]) == (secret, "AES256")
            assert got["ETag"] == answer.headers["ETag"]
            first = size // 2
            ranged = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{first + 9}")["Body"].read()
            assert ranged == secret[first : first + 10]
            listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
            assert listed[key] == size
    assert not any(
        b"form default plaintext" in p.read_bytes() for p in (base / "data").rglob("*") if p.is_file()
    )
