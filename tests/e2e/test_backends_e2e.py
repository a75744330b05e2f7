"""The same client scenario through the real gateway over every provider backend, each against a real
store process: moto's S3 server (s3 backend, and obs backend in v4 mode), the strict OSS emulator (oss
backend, signature v4 and v1), the strict OBS emulator (obs backend, native signature) and a real
single-node Ceph RGW (s3 backend; ``rgw`` marker, skipped with the reason where Ceph is not installed).

boto3 and the aws-cli drive the gateway; the gateway drives the store through the provider SDK.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import botocore.exceptions
import httpx
import pytest

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, make_client, sha256_file, write_random
from tests.procs import ServerProcess, free_port, gateway_server, http_ready, moto_server
from tests.rgw import CONNECT_TIMEOUT, READ_TIMEOUT
from tests.rgw_cluster import RgwCluster

MiB = 1024 * 1024
STORE_AK, STORE_SK = "store-ak", "store-sk-0123456789abcdef"


def _emulator(module: str, root: Path, extra: list[str]) -> ServerProcess:
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


def _store_and_backend(kind: str, root: Path) -> tuple[ServerProcess, str]:
    """Start the store for ``kind``; return it and the backend's YAML options."""
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
        store = _emulator(
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
        store = _emulator("tests.emulators.obs", root, []).start()
        yaml = f"type: obs\n    server: {store.url}\n    access_key: {STORE_AK}\n    secret_key: {STORE_SK}\n    signature: obs\n"
        return store, yaml
    raise ValueError(kind)


def _rgw_backend(cluster: RgwCluster) -> str:
    """The s3 backend's YAML options for the session's Ceph RGW (tests/rgw.py), first user's keys."""
    user = cluster.users[0]
    return (
        f"type: s3\n    endpoint: {cluster.endpoint}\n    access_key: {user.access_key}\n"
        f"    secret_key: {user.secret_key}\n    connect_timeout: {CONNECT_TIMEOUT}\n"
        f"    read_timeout: {READ_TIMEOUT}\n"
    )


@pytest.fixture(
    scope="module",
    params=["s3", "oss-v4", "oss-v1", "obs", "obs-v4", pytest.param("s3-rgw", marks=pytest.mark.rgw)],
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    store: ServerProcess | None = None
    if request.param == "s3-rgw":  # the session's cluster: started on first use, stopped by its fixture
        backend_yaml = _rgw_backend(request.getfixturevalue("rgw_cluster"))
    else:
        store, backend_yaml = _store_and_backend(request.param, root)
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


#: RGW's deviations from AWS that these scenarios meet, by test: strict xfail on the ``s3-rgw`` stack.
RGW_DEVIATIONS: dict[str, tuple[str, type[BaseException]]] = {
    "test_multipart_api_and_default_checksums": (
        "ListParts of an aborted upload answers 404 NoSuchKey, not NoSuchUpload",
        AssertionError,
    ),
}


@pytest.fixture(autouse=True)
def rgw_deviation(request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    deviation = RGW_DEVIATIONS.get(request.node.originalname)
    if callspec is not None and callspec.params.get("stack") == "s3-rgw" and deviation is not None:
        reason, raises = deviation
        request.applymarker(
            pytest.mark.xfail(strict=True, raises=raises, reason=f"RGW deviates from AWS: {reason}")
        )


@pytest.fixture
def s3b(stack: ServerProcess):  # type: ignore[no-untyped-def]
    return make_client(stack.url)


@pytest.fixture
def bkt(s3b) -> str:  # type: ignore[no-untyped-def]
    name = f"bk-{uuid.uuid4().hex[:10]}"
    s3b.create_bucket(Bucket=name)
    return name


def test_64mib_multipart_with_aws_cli(stack: ServerProcess, aws, bkt: str, s3b, tmp_path: Path) -> None:
    src = write_random(tmp_path / "src", 64 * MiB, seed=11)
    aws("s3", "cp", str(src), f"s3://{bkt}/big/object.bin", url=stack.url)
    head = s3b.head_object(Bucket=bkt, Key="big/object.bin")
    assert head["ContentLength"] == 64 * MiB
    aws("s3", "cp", f"s3://{bkt}/big/object.bin", str(tmp_path / "back"), url=stack.url)
    assert sha256_file(tmp_path / "back") == sha256_file(src)


def test_objects_ranges_copy_metadata(s3b, bkt: str) -> None:
    body = bytes(range(256)) * 64
    s3b.put_object(
        Bucket=bkt, Key="dir/a b+c", Body=body, ContentType="text/x-test", CacheControl="no-cache",
        ContentDisposition="inline", Metadata={"owner": "ada", "n": "1"},
    )  # fmt: skip
    head = s3b.head_object(Bucket=bkt, Key="dir/a b+c")
    assert head["Metadata"] == {"owner": "ada", "n": "1"}
    assert head["ContentType"] == "text/x-test" and head["CacheControl"] == "no-cache"
    assert head["ContentDisposition"] == "inline" and head["ContentLength"] == len(body)
    assert head["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    ranged = s3b.get_object(Bucket=bkt, Key="dir/a b+c", Range="bytes=100-299")
    assert ranged["Body"].read() == body[100:300] and ranged["ContentRange"] == f"bytes 100-299/{len(body)}"
    assert s3b.get_object(Bucket=bkt, Key="dir/a b+c", Range="bytes=-10")["Body"].read() == body[-10:]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.get_object(Bucket=bkt, Key="dir/a b+c", Range=f"bytes={len(body)}-")
    assert err.value.response["Error"]["Code"] == "InvalidRange"
    s3b.copy_object(Bucket=bkt, Key="copy", CopySource={"Bucket": bkt, "Key": "dir/a b+c"})
    copied = s3b.get_object(Bucket=bkt, Key="copy")
    assert copied["Body"].read() == body and copied["Metadata"] == {"owner": "ada", "n": "1"}
    s3b.copy_object(
        Bucket=bkt, Key="copy", CopySource={"Bucket": bkt, "Key": "dir/a b+c"}, MetadataDirective="REPLACE",
        Metadata={"fresh": "yes"}, ContentType="application/x-new",
    )  # fmt: skip
    replaced = s3b.head_object(Bucket=bkt, Key="copy")
    assert replaced["Metadata"] == {"fresh": "yes"} and replaced["ContentType"] == "application/x-new"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.get_object(Bucket=bkt, Key="missing")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    s3b.delete_object(Bucket=bkt, Key="copy")
    with pytest.raises(botocore.exceptions.ClientError):
        s3b.head_object(Bucket=bkt, Key="copy")


def test_listing_1500_keys_with_delimiter(s3b, bkt: str) -> None:
    keys = [f"d{i % 3}/k{i:04d}" for i in range(1500)] + [f"top{i}" for i in range(5)]

    def put(key: str) -> None:
        s3b.put_object(Bucket=bkt, Key=key, Body=key.encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, keys))
    seen: list[str] = []
    pages = 0
    for page in s3b.get_paginator("list_objects_v2").paginate(Bucket=bkt, Prefix="d1/"):
        seen += [o["Key"] for o in page.get("Contents", [])]
        pages += 1
    assert seen == sorted(k for k in keys if k.startswith("d1/")) and pages == 1
    seen, pages = [], 0
    for page in s3b.get_paginator("list_objects_v2").paginate(Bucket=bkt, PaginationConfig={"PageSize": 400}):
        seen += [o["Key"] for o in page.get("Contents", [])]
        pages += 1
    assert seen == sorted(keys) and pages == 4
    top = s3b.list_objects_v2(Bucket=bkt, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["d0/", "d1/", "d2/"]
    assert [o["Key"] for o in top["Contents"]] == [f"top{i}" for i in range(5)]
    v1, marker = [], ""
    while True:
        page = s3b.list_objects(Bucket=bkt, Prefix="d2/", Marker=marker, MaxKeys=333)
        v1 += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        marker = v1[-1]
    assert v1 == sorted(k for k in keys if k.startswith("d2/"))


def test_presigned_urls_land_in_the_store(stack: ServerProcess, s3b, bkt: str) -> None:
    for signature in ("s3", "s3v4"):
        signer = make_client(stack.url, signature_version=signature)
        key = f"anon/{signature}.txt"
        url = signer.generate_presigned_url("put_object", Params={"Bucket": bkt, "Key": key}, ExpiresIn=300)
        assert httpx.put(url, content=b"uploaded " + signature.encode()).status_code == 200
        url = signer.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": key}, ExpiresIn=300)
        got = httpx.get(url)
        assert got.status_code == 200 and got.content == b"uploaded " + signature.encode()
    assert s3b.get_object(Bucket=bkt, Key="anon/s3v4.txt")["Body"].read() == b"uploaded s3v4"


def test_multipart_api_and_default_checksums(stack: ServerProcess, bkt: str, s3b) -> None:
    client = make_client(stack.url, checksums="when_supported")
    parts = [bytes([n]) * (5 * MiB) for n in range(1, 3)] + [b"end"]
    uid = client.create_multipart_upload(Bucket=bkt, Key="mpu", Metadata={"m": "v"})["UploadId"]
    etags = [
        client.upload_part(Bucket=bkt, Key="mpu", UploadId=uid, PartNumber=n + 1, Body=p)["ETag"]
        for n, p in enumerate(parts)
    ]
    listed = s3b.list_parts(Bucket=bkt, Key="mpu", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert any(u["UploadId"] == uid for u in s3b.list_multipart_uploads(Bucket=bkt).get("Uploads", []))
    client.complete_multipart_upload(
        Bucket=bkt, Key="mpu", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
    )  # fmt: skip
    got = s3b.get_object(Bucket=bkt, Key="mpu")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(b"".join(parts)).digest()
    assert got["Metadata"] == {"m": "v"}
    uid = s3b.create_multipart_upload(Bucket=bkt, Key="aborted")["UploadId"]
    s3b.abort_multipart_upload(Bucket=bkt, Key="aborted", UploadId=uid)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.list_parts(Bucket=bkt, Key="aborted", UploadId=uid)
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"
