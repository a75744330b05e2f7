"""Versioned buckets through the real gateway process (fs backend), driven by boto3, the aws-cli and
minio-py: the calls backup tools make on a versioned bucket."""

from __future__ import annotations

import io
import json

import botocore.exceptions
import pytest

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY


def _error(exc: botocore.exceptions.ClientError) -> tuple[str, int, dict[str, str]]:
    meta = exc.response["ResponseMetadata"]
    return exc.response["Error"]["Code"], meta["HTTPStatusCode"], meta["HTTPHeaders"]


def test_boto3_versions_markers_and_listing(s3, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    head = s3.head_object(Bucket=bucket, Key="doc")
    assert head["VersionId"] == v2
    gone = s3.delete_object(Bucket=bucket, Key="doc")
    assert gone["DeleteMarker"] is True
    marker = gone["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="doc")
    code, status, headers = _error(err.value)
    assert (code, status, headers.get("x-amz-delete-marker")) == ("NoSuchKey", 404, "true")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=marker)
    code, status, headers = _error(err.value)
    assert (code, status, headers.get("x-amz-delete-marker")) == ("MethodNotAllowed", 405, "true")
    listing = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker, True)]
    copied = s3.copy_object(
        Bucket=bucket, Key="restored", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": v1}
    )
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="restored")["Body"].read() == b"one"
    undone = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert undone["DeleteMarker"] is True and undone["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    batch = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "doc", "VersionId": v1}, {"Key": "restored"}]}
    )
    deleted = {(d["Key"], d.get("VersionId"), d.get("DeleteMarker", False)) for d in batch["Deleted"]}
    assert ("doc", v1, False) in deleted
    assert any(k == "restored" and marker_made for k, _, marker_made in deleted)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert _error(err.value)[:2] == ("NoSuchVersion", 404)
    _purge(s3, bucket)


def test_bad_versioning_documents(s3, bucket: str) -> None:
    for status in ("On", "enabled"):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
        assert _error(err.value)[:2] == ("MalformedXML", 400)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="nothing", VersionId="not-a-version")
    assert _error(err.value)[:2] == ("InvalidArgument", 400)


def test_aws_cli_versioning(aws, s3, bucket: str) -> None:
    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    status = json.loads(aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout)
    assert status["Status"] == "Enabled"
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    listed = json.loads(aws("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert [v["VersionId"] for v in listed["Versions"]][1] == first
    out = aws(
        "s3api", "get-object", "--bucket", bucket, "--key", "k", "--version-id", first, "/dev/stdout"
    ).stdout
    assert out.startswith("first")
    _purge(s3, bucket)


def test_minio_py_versions(gateway, s3, bucket: str) -> None:
    from minio import Minio
    from minio.commonconfig import ENABLED
    from minio.versioningconfig import VersioningConfig

    client = Minio(
        f"127.0.0.1:{gateway.port}",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        secure=False,
        region="us-east-1",
    )
    client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    first = client.put_object(bucket, "m", io.BytesIO(b"minio one"), 9).version_id
    client.put_object(bucket, "m", io.BytesIO(b"minio two"), 9)
    assert client.stat_object(bucket, "m", version_id=first).version_id == first
    got = client.get_object(bucket, "m", version_id=first)
    try:
        assert got.read() == b"minio one"
    finally:
        got.close()
        got.release_conn()
    client.remove_object(bucket, "m", version_id=first)
    with pytest.raises(Exception, match="NoSuch"):  # a HEAD 404 has no body: minio says NoSuchKey
        client.stat_object(bucket, "m", version_id=first)
    _purge(s3, bucket)


def _purge(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    """Remove every version and marker, so the fixture can delete the bucket."""
    listing = s3.list_object_versions(Bucket=bucket)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


def test_boto3_complete_repeated_answers_the_same(s3, bucket: str) -> None:
    """A client retrying CompleteMultipartUpload after a lost answer gets the first answer again."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    first = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts)
    assert first["VersionId"] and first["VersionId"] != "null"
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts)
    assert (again["ETag"], again["VersionId"]) == (first["ETag"], first["VersionId"])
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [
        first["VersionId"]
    ]
