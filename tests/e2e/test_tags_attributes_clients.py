"""Object and bucket tagging, object attributes and part reads driven by the aws-cli (``s3api`` tagging
commands, ``get-object-attributes``), boto3 (``PartNumber``) and minio-py (``set_object_tags`` and
friends), unmodified, against the real gateway process (fs backend)."""

from __future__ import annotations

import json

from tests.helpers.clients import minio_client
from tests.helpers.procs import ServerProcess


def test_aws_cli_tagging(aws, bucket: str) -> None:  # type: ignore[no-untyped-def]
    aws("s3api", "put-object", "--bucket", bucket, "--key", "doc", "--tagging", "team=data&tier=gold")
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "doc").stdout)
    assert got["TagSet"] == [{"Key": "team", "Value": "data"}, {"Key": "tier", "Value": "gold"}]
    tagging = json.dumps({"TagSet": [{"Key": "owner", "Value": "ops team"}]})
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "doc", "--tagging", tagging)
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "doc").stdout)
    assert got["TagSet"] == [{"Key": "owner", "Value": "ops team"}]
    too_many = json.dumps({"TagSet": [{"Key": f"k{n}", "Value": "v"} for n in range(11)]})
    refused = aws(
        "s3api", "put-object-tagging", "--bucket", bucket, "--key", "doc", "--tagging", too_many, check=False
    )
    assert refused.returncode != 0 and "BadRequest" in refused.stderr
    aws("s3api", "delete-object-tagging", "--bucket", bucket, "--key", "doc")
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "doc").stdout)
    assert got["TagSet"] == []
    missing = aws("s3api", "get-bucket-tagging", "--bucket", bucket, check=False)
    assert missing.returncode != 0 and "NoSuchTagSet" in missing.stderr
    aws("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", tagging)
    got = json.loads(aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert got["TagSet"] == [{"Key": "owner", "Value": "ops team"}]
    aws("s3api", "delete-bucket-tagging", "--bucket", bucket)


def test_minio_py_tagging(gateway: ServerProcess, bucket: str) -> None:
    import io

    from minio.commonconfig import Tags

    client = minio_client(gateway.port)
    tags = Tags.new_object_tags()
    tags["project"] = "bridge"
    tags["env"] = "test"
    client.put_object(bucket, "m", io.BytesIO(b"minio"), 5, tags=tags)
    assert dict(client.get_object_tags(bucket, "m") or {}) == {"project": "bridge", "env": "test"}
    fresh = Tags.new_object_tags()
    fresh["state"] = "reviewed"
    client.set_object_tags(bucket, "m", fresh)
    assert dict(client.get_object_tags(bucket, "m") or {}) == {"state": "reviewed"}
    client.delete_object_tags(bucket, "m")
    assert not client.get_object_tags(bucket, "m")
    bucket_tags = Tags.new_bucket_tags()
    bucket_tags["cost-centre"] = "42"
    client.set_bucket_tags(bucket, bucket_tags)
    assert dict(client.get_bucket_tags(bucket) or {}) == {"cost-centre": "42"}
    client.delete_bucket_tags(bucket)
    assert client.get_bucket_tags(bucket) is None


def test_aws_cli_object_attributes_and_part_reads(aws, s3, bucket: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``s3api get-object-attributes`` and boto3's ``PartNumber`` on an object the cli uploaded in parts."""
    from tests.helpers.clients import write_random

    source = write_random(tmp_path / "big.bin", 20 * 1024 * 1024, seed=3)  # 8 MiB parts: 8 + 8 + 4
    aws("s3", "cp", str(source), f"s3://{bucket}/big.bin")
    out = aws(
        "s3api", "get-object-attributes", "--bucket", bucket, "--key", "big.bin",
        "--object-attributes", "ETag", "ObjectParts", "ObjectSize", "StorageClass",
    ).stdout  # fmt: skip
    got = json.loads(out)
    assert got["ObjectSize"] == 20 * 1024 * 1024 and got["StorageClass"] == "STANDARD"
    assert got["ObjectParts"]["TotalPartsCount"] == 3
    assert got["ETag"].endswith("-3")
    part = s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=3)
    assert part["PartsCount"] == 3 and part["ContentLength"] == 4 * 1024 * 1024
    assert part["ContentRange"] == f"bytes {16 * 1024 * 1024}-{20 * 1024 * 1024 - 1}/{20 * 1024 * 1024}"
    assert part["Body"].read() == source.read_bytes()[16 * 1024 * 1024 :]
    head = s3.head_object(Bucket=bucket, Key="big.bin", PartNumber=1)
    assert head["ContentLength"] == 8 * 1024 * 1024 and head["PartsCount"] == 3
