"""Object records end to end: boto3 with its default checksum settings through the real gateway over the
s3 backend (moto's S3 server) and the oss backend (the strict OSS emulator), each with ``meta_bucket``.

The stores forget the checksums the gateway verified, a multipart object's part sizes (OSS) and a
completed upload id (OSS); the records in the metadata bucket answer with them as S3 does.
"""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Iterator

import botocore.exceptions
import pytest

from tests.helpers.clients import make_client
from tests.helpers.procs import ServerProcess
from tests.helpers.stores import serve_backend, store_and_backend

MiB = 1024 * 1024
META = "gw-records-meta"


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.fixture(scope="module", params=["s3", "oss-v4"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp(f"records-{request.param}")
    store, backend_yaml = store_and_backend(request.param, root)
    yield from serve_backend(root, f"{backend_yaml}    meta_bucket: {META}\n", store)


@pytest.fixture
def client(stack: ServerProcess):  # type: ignore[no-untyped-def]
    return make_client(stack.url, checksums="when_supported")  # boto3's default


@pytest.fixture
def bkt(client) -> str:  # type: ignore[no-untyped-def]
    name = f"rec-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return name


def test_default_checksum_read_back(client, bkt: str) -> None:  # type: ignore[no-untyped-def]
    data = b"boto3 sends a CRC32 by default " * 300
    client.put_object(Bucket=bkt, Key="k", Body=data)
    head = client.head_object(Bucket=bkt, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32(data)
    got = client.get_object(Bucket=bkt, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == crc32(data)
    assert "ChecksumCRC32" not in client.head_object(Bucket=bkt, Key="k")
    attrs = client.get_object_attributes(Bucket=bkt, Key="k", ObjectAttributes=["Checksum", "ObjectSize"])
    assert attrs["Checksum"]["ChecksumCRC32"] == crc32(data)
    assert attrs["ObjectSize"] == len(data)


def test_deleted_object_leaves_no_checksum(stack: ServerProcess, client, bkt: str) -> None:  # type: ignore[no-untyped-def]
    data = b"same bytes, twice"
    client.put_object(Bucket=bkt, Key="again", Body=data)
    client.delete_object(Bucket=bkt, Key="again")
    plain = make_client(stack.url)  # sends no checksum
    plain.put_object(Bucket=bkt, Key="again", Body=data)
    head = client.head_object(Bucket=bkt, Key="again", ChecksumMode="ENABLED")
    assert not [h for h in head["ResponseMetadata"]["HTTPHeaders"] if h.startswith("x-amz-checksum-")]


def test_full_object_multipart_parts_and_repeat(client, bkt: str) -> None:  # type: ignore[no-untyped-def]
    parts = [bytes([1]) * (5 * MiB), bytes([2]) * (5 * MiB), b"the last part"]
    uid = client.create_multipart_upload(
        Bucket=bkt, Key="mp", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    done = []
    for n, body in enumerate(parts, 1):
        out = client.upload_part(
            Bucket=bkt, Key="mp", UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm="CRC32"
        )
        assert out["ChecksumCRC32"] == crc32(body)
        done.append({"PartNumber": n, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    listed = client.list_parts(Bucket=bkt, Key="mp", UploadId=uid)["Parts"]
    assert [p["ChecksumCRC32"] for p in listed] == [crc32(p) for p in parts]
    whole = b"".join(parts)
    completed = client.complete_multipart_upload(
        Bucket=bkt, Key="mp", UploadId=uid, MultipartUpload={"Parts": done}, ChecksumType="FULL_OBJECT"
    )
    assert completed["ChecksumCRC32"] == crc32(whole)
    again = client.complete_multipart_upload(  # a retry after a lost answer
        Bucket=bkt, Key="mp", UploadId=uid, MultipartUpload={"Parts": done}, ChecksumType="FULL_OBJECT"
    )
    assert again["ETag"] == completed["ETag"]
    head = client.head_object(Bucket=bkt, Key="mp", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (crc32(whole), "FULL_OBJECT")
    attrs = client.get_object_attributes(
        Bucket=bkt, Key="mp", ObjectAttributes=["ObjectParts", "Checksum", "ETag"]
    )
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert [(p["PartNumber"], p["Size"]) for p in attrs["ObjectParts"]["Parts"]] == [
        (n, len(p)) for n, p in enumerate(parts, 1)
    ]
    assert attrs["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    second = client.get_object(Bucket=bkt, Key="mp", PartNumber=2)
    assert second["PartsCount"] == 3 and second["ContentLength"] == 5 * MiB
    assert second["Body"].read() == parts[1]
    with pytest.raises(botocore.exceptions.ClientError) as err:  # the id belongs to its key only
        client.complete_multipart_upload(
            Bucket=bkt, Key="other", UploadId=uid, MultipartUpload={"Parts": done}
        )
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"


def test_upload_file_defaults(client, bkt: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """boto3's managed transfer (multipart above 8 MiB) with its default checksums, read back."""
    path = tmp_path / "big"
    data = bytes(range(256)) * (12 * MiB // 256) + b"tail"
    path.write_bytes(data)
    client.upload_file(str(path), bkt, "big")
    head = client.head_object(Bucket=bkt, Key="big", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head["ChecksumCRC32"].split("-")[0]  # COMPOSITE or FULL_OBJECT, as boto3 asked
    if head.get("ChecksumType") == "FULL_OBJECT":
        assert head["ChecksumCRC32"] == crc32(data)
    attrs = client.get_object_attributes(Bucket=bkt, Key="big", ObjectAttributes=["ObjectParts"])
    assert sum(p["Size"] for p in attrs["ObjectParts"]["Parts"]) == len(data)
    got = client.get_object(Bucket=bkt, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
