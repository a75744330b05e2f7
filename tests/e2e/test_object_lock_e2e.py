"""Object Lock through the real gateway process (fs backend), driven by boto3 and the aws-cli: what
backup tools rely on for ransomware-proof copies. A lock bucket's locked versions cannot be removed by
anyone (the owner included), so the buckets here are left behind in the gateway's temp data."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from tests.helpers.objectlock import compliance_survives_owner, later, refused


@pytest.fixture
def lock_bucket(s3_default) -> str:  # type: ignore[no-untyped-def]
    name = f"e2e-lock-{uuid.uuid4().hex[:12]}"
    s3_default.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_lock_bucket_is_versioned_for_good(s3_default, lock_bucket: str) -> None:
    s3 = s3_default
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    assert refused(
        s3.put_bucket_versioning, Bucket=lock_bucket, VersioningConfiguration={"Status": "Suspended"}
    ) == ("InvalidBucketState", 409)


def test_compliance_version_survives_the_owner(s3_default, lock_bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3 = s3_default
    version, until = compliance_survives_owner(s3, lock_bucket)
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(hours=1)}
    assert refused(
        s3.put_object_retention, Bucket=lock_bucket, Key="backup", VersionId=version, Retention=shorter
    ) == ("AccessDenied", 403)
    retention = s3.get_object_retention(Bucket=lock_bucket, Key="backup", VersionId=version)["Retention"]
    assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": until}


def test_governance_yields_only_to_bypass(s3_default, lock_bucket: str) -> None:
    s3 = s3_default
    put = s3.put_object(
        Bucket=lock_bucket,
        Key="gov",
        Body=b"g",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=later(),
    )
    version = put["VersionId"]
    assert refused(s3.delete_object, Bucket=lock_bucket, Key="gov", VersionId=version) == (
        "AccessDenied",
        403,
    )
    longer = {"Mode": "GOVERNANCE", "RetainUntilDate": later(2)}
    s3.put_object_retention(Bucket=lock_bucket, Key="gov", VersionId=version, Retention=longer)
    s3.delete_object(Bucket=lock_bucket, Key="gov", VersionId=version, BypassGovernanceRetention=True)
    assert refused(s3.head_object, Bucket=lock_bucket, Key="gov", VersionId=version)[1] == 404


def test_legal_hold_blocks_deletes_until_released(s3_default, lock_bucket: str) -> None:
    s3 = s3_default
    version = s3.put_object(Bucket=lock_bucket, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")[
        "VersionId"
    ]
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="held", VersionId=version)["LegalHold"] == {
        "Status": "ON"
    }
    assert refused(
        s3.delete_object, Bucket=lock_bucket, Key="held", VersionId=version, BypassGovernanceRetention=True
    ) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="held", VersionId=version, LegalHold={"Status": "OFF"})
    assert (
        s3.head_object(Bucket=lock_bucket, Key="held", VersionId=version)["ObjectLockLegalHoldStatus"]
        == "OFF"
    )
    s3.delete_object(Bucket=lock_bucket, Key="held", VersionId=version)
    assert refused(s3.get_object_legal_hold, Bucket=lock_bucket, Key="held", VersionId=version)[1] == 404


def test_default_retention_and_integrity_header(s3, s3_default, lock_bucket: str) -> None:
    s3_default.put_object_lock_configuration(
        Bucket=lock_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    version = s3_default.put_object(Bucket=lock_bucket, Key="d", Body=b"d")["VersionId"]
    head = s3_default.head_object(Bucket=lock_bucket, Key="d", VersionId=version)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > later(1) - dt.timedelta(minutes=5)
    # ``s3`` sends no checksum and no Content-MD5 on PutObject: S3 refuses a locking upload without one.
    assert refused(s3.put_object, Bucket=lock_bucket, Key="d", Body=b"unverified") == ("InvalidRequest", 400)


def test_lock_requests_on_a_plain_bucket(s3_default, bucket: str) -> None:
    s3 = s3_default
    assert refused(s3.get_object_lock_configuration, Bucket=bucket) == (
        "ObjectLockConfigurationNotFoundError",
        404,
    )
    assert refused(
        s3.put_object,
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=later(),
    ) == ("InvalidRequest", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert refused(s3.get_object_retention, Bucket=bucket, Key="k") == ("InvalidRequest", 400)
    enabled = {"ObjectLockEnabled": "Enabled"}
    assert refused(s3.put_object_lock_configuration, Bucket=bucket, ObjectLockConfiguration=enabled) == (
        "InvalidBucketState",
        409,
    )
    s3.delete_object(Bucket=bucket, Key="k")


def test_bad_lock_headers(s3_default, lock_bucket: str) -> None:
    s3 = s3_default
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    assert refused(
        s3.put_object,
        Bucket=lock_bucket,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=past,
    ) == ("InvalidArgument", 400)
    assert refused(s3.put_object, Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE") == (
        "InvalidArgument",
        400,
    )


def test_aws_cli_lock_configuration_and_retention(aws, s3_default, lock_bucket: str) -> None:
    config = json.dumps(
        {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2}}}
    )
    aws(
        "s3api",
        "put-object-lock-configuration",
        "--bucket",
        lock_bucket,
        "--object-lock-configuration",
        config,
    )
    got = json.loads(aws("s3api", "get-object-lock-configuration", "--bucket", lock_bucket).stdout)
    assert got["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 2}
    version = s3_default.put_object(Bucket=lock_bucket, Key="cli", Body=b"c")["VersionId"]
    retention = json.loads(
        aws(
            "s3api", "get-object-retention", "--bucket", lock_bucket, "--key", "cli", "--version-id", version
        ).stdout
    )
    assert retention["Retention"]["Mode"] == "COMPLIANCE"


def test_multipart_and_copy_lock_their_new_version(s3_default, lock_bucket: str) -> None:
    """CreateMultipartUpload's lock headers lock the completed object; a copy gets the request's lock,
    never the source's."""
    s3 = s3_default
    until = later()
    upload = s3.create_multipart_upload(
        Bucket=lock_bucket, Key="mp", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until
    )["UploadId"]
    etag = s3.upload_part(Bucket=lock_bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=lock_bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    head = s3.head_object(Bucket=lock_bucket, Key="mp", VersionId=done["VersionId"])
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)
    assert refused(s3.delete_object, Bucket=lock_bucket, Key="mp", VersionId=done["VersionId"]) == (
        "AccessDenied",
        403,
    )
    plain = s3.copy_object(Bucket=lock_bucket, Key="copy", CopySource={"Bucket": lock_bucket, "Key": "mp"})
    assert "ObjectLockMode" not in s3.head_object(
        Bucket=lock_bucket, Key="copy", VersionId=plain["VersionId"]
    )
    s3.delete_object(Bucket=lock_bucket, Key="copy", VersionId=plain["VersionId"])
    held = s3.copy_object(
        Bucket=lock_bucket,
        Key="copy",
        CopySource={"Bucket": lock_bucket, "Key": "mp"},
        ObjectLockLegalHoldStatus="ON",
    )
    assert (
        s3.head_object(Bucket=lock_bucket, Key="copy", VersionId=held["VersionId"])[
            "ObjectLockLegalHoldStatus"
        ]
        == "ON"
    )
