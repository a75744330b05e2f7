"""Flexible checksums end to end with boto3 against the real gateway (filesystem backend): every
algorithm on single uploads, COMPOSITE and FULL_OBJECT multipart checksums, and the refusals."""

from __future__ import annotations

import base64
import hashlib
import zlib

import botocore.exceptions
import pytest
from awscrt import checksums as crt

from tests.helpers.clients import make_client

MiB = 1024 * 1024


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def local(alg: str, data: bytes) -> str:
    return {
        "CRC32": lambda: b64(zlib.crc32(data).to_bytes(4, "big")),
        "CRC32C": lambda: b64(crt.crc32c(data).to_bytes(4, "big")),
        "CRC64NVME": lambda: b64(crt.crc64nvme(data).to_bytes(8, "big")),
        "SHA1": lambda: b64(hashlib.sha1(data).digest()),
        "SHA256": lambda: b64(hashlib.sha256(data).digest()),
    }[alg]()


@pytest.fixture(params=["http", "https"])
def client(request: pytest.FixtureRequest, gateway, s3):  # type: ignore[no-untyped-def]
    if request.param == "https":
        tls = request.getfixturevalue("tls")
        server, ca = tls
        return make_client(server.url, checksums="when_supported", verify=str(ca))
    return make_client(gateway.url, checksums="when_supported")


@pytest.fixture
def cbucket(client) -> str:  # type: ignore[no-untyped-def]
    import uuid

    name = f"ck-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_single_put_every_algorithm(client, cbucket: str, alg: str) -> None:
    data = b"checksummed body " * 5000
    out = client.put_object(Bucket=cbucket, Key=alg, Body=data, ChecksumAlgorithm=alg)
    assert out[f"Checksum{alg}"] == local(alg, data)
    head = client.head_object(Bucket=cbucket, Key=alg, ChecksumMode="ENABLED")
    assert head[f"Checksum{alg}"] == local(alg, data)
    got = client.get_object(Bucket=cbucket, Key=alg, ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got[f"Checksum{alg}"] == local(alg, data)


def test_wrong_declared_checksum_is_refused_and_nothing_stored(gateway, s3, bucket: str) -> None:
    data = b"the real body"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=bucket, Key="bad", Body=data, ChecksumCRC32=local("CRC32", b"another body"))
    assert err.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def _parts() -> list[bytes]:
    return [bytes([n]) * (5 * MiB) for n in (1, 2)] + [b"last part"]


def test_composite_multipart(client, cbucket: str) -> None:
    parts = _parts()
    uid = client.create_multipart_upload(Bucket=cbucket, Key="comp", ChecksumAlgorithm="CRC32")["UploadId"]
    done = []
    for n, body in enumerate(parts, 1):
        out = client.upload_part(
            Bucket=cbucket, Key="comp", UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm="CRC32"
        )
        assert out["ChecksumCRC32"] == local("CRC32", body)
        done.append({"PartNumber": n, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    result = client.complete_multipart_upload(
        Bucket=cbucket, Key="comp", UploadId=uid, MultipartUpload={"Parts": done}
    )
    composite = b64(
        zlib.crc32(b"".join(base64.b64decode(local("CRC32", p)) for p in parts)).to_bytes(4, "big")
    )
    assert result["ChecksumCRC32"] == f"{composite}-3"
    head = client.head_object(Bucket=cbucket, Key="comp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == f"{composite}-3" and head["ChecksumType"] == "COMPOSITE"


def test_full_object_multipart(client, cbucket: str) -> None:
    parts = _parts()
    whole = b"".join(parts)
    uid = client.create_multipart_upload(
        Bucket=cbucket, Key="full", ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    done = []
    for n, body in enumerate(parts, 1):
        out = client.upload_part(
            Bucket=cbucket, Key="full", UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm="CRC64NVME"
        )
        done.append({"PartNumber": n, "ETag": out["ETag"], "ChecksumCRC64NVME": out["ChecksumCRC64NVME"]})
    with pytest.raises(
        botocore.exceptions.ClientError
    ) as err:  # a wrong whole-object checksum: nothing lands
        client.complete_multipart_upload(
            Bucket=cbucket, Key="full", UploadId=uid, MultipartUpload={"Parts": done},
            ChecksumCRC64NVME=local("CRC64NVME", b"not the object"), ChecksumType="FULL_OBJECT",
        )  # fmt: skip
    assert err.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError):
        client.head_object(Bucket=cbucket, Key="full")
    result = client.complete_multipart_upload(
        Bucket=cbucket, Key="full", UploadId=uid, MultipartUpload={"Parts": done},
        ChecksumCRC64NVME=local("CRC64NVME", whole), ChecksumType="FULL_OBJECT",
    )  # fmt: skip
    assert result["ChecksumCRC64NVME"] == local("CRC64NVME", whole)
    head = client.head_object(Bucket=cbucket, Key="full", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == local("CRC64NVME", whole) and head["ChecksumType"] == "FULL_OBJECT"


def test_part_checksum_mismatch_and_sha_full_object(client, cbucket: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.create_multipart_upload(
            Bucket=cbucket, Key="x", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT"
        )
    assert err.value.response["Error"]["Code"] == "InvalidRequest"
    uid = client.create_multipart_upload(Bucket=cbucket, Key="m", ChecksumAlgorithm="CRC32")["UploadId"]
    out = client.upload_part(
        Bucket=cbucket, Key="m", UploadId=uid, PartNumber=1, Body=b"only", ChecksumAlgorithm="CRC32"
    )
    wrong = {"PartNumber": 1, "ETag": out["ETag"], "ChecksumCRC32": local("CRC32", b"other")}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.complete_multipart_upload(
            Bucket=cbucket, Key="m", UploadId=uid, MultipartUpload={"Parts": [wrong]}
        )
    assert err.value.response["Error"]["Code"] == "InvalidPart"
