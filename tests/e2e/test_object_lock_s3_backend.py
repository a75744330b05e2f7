"""Object Lock through the real gateway process on the s3 backend, moto's S3 server as the store, driven
by boto3: the lock is the store's own, so a locked version survives its owner through the gateway and
around it (asked of moto directly). Locked versions cannot be removed, so buckets are left behind."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, boto3_client, make_client
from tests.helpers.objectlock import compliance_survives_owner, later, refused
from tests.helpers.procs import ServerProcess, gateway_server, moto_server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """(moto, a gateway whose one backend is the s3 backend over moto, settings in a metadata bucket)."""
    base = tmp_path_factory.mktemp("lock-s3")
    moto = moto_server(log_path=base / "moto.log").start()
    try:
        backend = {
            "type": "s3",
            "endpoint": moto.url,
            "access_key": "moto",
            "secret_key": "moto-secret",
            "meta_bucket": "s3bridge-meta",
        }
        config = base / "gateway.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
                    "backends": {"store": backend},
                }
            )
        )
        gateway = gateway_server(
            config=config, access_key=ACCESS_KEY, secret_key=SECRET_KEY, log_path=base / "gateway.log"
        ).start()
        try:
            yield moto, gateway
        finally:
            gateway.stop()
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def s3(stack: tuple[ServerProcess, ServerProcess]) -> Any:
    """boto3 at the gateway with its default checksums (an x-amz-checksum-crc32 header over http)."""
    return make_client(stack[1].url, checksums="when_supported")


@pytest.fixture(scope="module")
def store(stack: tuple[ServerProcess, ServerProcess]) -> Any:
    """boto3 at moto itself, to see what the store keeps and refuses behind the gateway's back."""
    return boto3_client(stack[0].url, ("moto", "moto-secret"), checksums="when_supported")


@pytest.fixture
def lock_bucket(s3: Any) -> str:
    name = f"e2e-lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_the_store_bucket_is_locked_and_versioned(s3: Any, store: Any, lock_bucket: str) -> None:
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    config = store.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert config["ObjectLockEnabled"] == "Enabled"


def test_compliance_version_survives_the_owner(s3: Any, store: Any, lock_bucket: str) -> None:
    version, until = compliance_survives_owner(s3, lock_bucket)
    # The lock is the store's: going around the gateway does not remove the version either.
    at_store = store.head_object(Bucket=lock_bucket, Key="backup", VersionId=version)
    assert (at_store["ObjectLockMode"], at_store["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    assert refused(store.delete_object, Bucket=lock_bucket, Key="backup", VersionId=version)[1] == 403
    assert s3.get_object(Bucket=lock_bucket, Key="backup", VersionId=version)["Body"].read() == b"precious"


def test_governance_yields_to_the_owners_bypass(s3: Any, store: Any, lock_bucket: str) -> None:
    version = s3.put_object(
        Bucket=lock_bucket,
        Key="gov",
        Body=b"g",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=later(),
    )["VersionId"]
    assert refused(s3.delete_object, Bucket=lock_bucket, Key="gov", VersionId=version) == (
        "AccessDenied",
        403,
    )
    longer = {"Mode": "GOVERNANCE", "RetainUntilDate": later(2)}
    s3.put_object_retention(Bucket=lock_bucket, Key="gov", VersionId=version, Retention=longer)
    at_store = store.head_object(Bucket=lock_bucket, Key="gov", VersionId=version)
    assert at_store["ObjectLockRetainUntilDate"] == longer["RetainUntilDate"]  # moto: GetObjectRetention 500s
    s3.delete_object(Bucket=lock_bucket, Key="gov", VersionId=version, BypassGovernanceRetention=True)
    assert refused(s3.head_object, Bucket=lock_bucket, Key="gov", VersionId=version)[1] == 404


def test_legal_hold_and_content_md5(
    s3: Any, stack: tuple[ServerProcess, ServerProcess], lock_bucket: str
) -> None:
    """A client sending Content-MD5 (no checksum): the value is forwarded with the streamed body."""
    plain = make_client(stack[1].url)
    body = b"held"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's Content-MD5
    version = plain.put_object(
        Bucket=lock_bucket, Key="held", Body=body, ContentMD5=md5, ObjectLockLegalHoldStatus="ON"
    )["VersionId"]
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="held", VersionId=version)["LegalHold"] == {
        "Status": "ON"
    }
    assert refused(
        s3.delete_object, Bucket=lock_bucket, Key="held", VersionId=version, BypassGovernanceRetention=True
    ) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="held", VersionId=version, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=lock_bucket, Key="held", VersionId=version)
    assert refused(s3.head_object, Bucket=lock_bucket, Key="held", VersionId=version)[1] == 404


def test_default_retention_copy_and_multipart_lock_at_the_store(
    s3: Any, store: Any, lock_bucket: str
) -> None:
    s3.put_object_lock_configuration(
        Bucket=lock_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    version = s3.put_object(Bucket=lock_bucket, Key="d", Body=b"d", Tagging="kept=yes")["VersionId"]
    assert store.head_object(Bucket=lock_bucket, Key="d", VersionId=version)["ObjectLockMode"] == "GOVERNANCE"
    until = later(3)
    copy = s3.copy_object(
        Bucket=lock_bucket,
        Key="c",
        CopySource={"Bucket": lock_bucket, "Key": "d"},
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    copied = store.head_object(Bucket=lock_bucket, Key="c", VersionId=copy["VersionId"])
    assert (copied["ObjectLockMode"], copied["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    assert refused(s3.delete_object, Bucket=lock_bucket, Key="c", VersionId=copy["VersionId"])[1] == 403
    tags = s3.get_object_tagging(Bucket=lock_bucket, Key="c", VersionId=copy["VersionId"])["TagSet"]
    assert tags == [{"Key": "kept", "Value": "yes"}]  # COPY directives: the source's tags, as on S3
    # moto's CreateMultipartUpload ignores the lock headers: the s3 backend sets the lock on completion.
    upload = s3.create_multipart_upload(Bucket=lock_bucket, Key="m", ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=lock_bucket, Key="m", UploadId=upload["UploadId"], PartNumber=1, Body=b"m")
    done = s3.complete_multipart_upload(
        Bucket=lock_bucket,
        Key="m",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert (
        store.head_object(Bucket=lock_bucket, Key="m", VersionId=done["VersionId"])[
            "ObjectLockLegalHoldStatus"
        ]
        == "ON"
    )
    assert refused(s3.delete_object, Bucket=lock_bucket, Key="m", VersionId=done["VersionId"])[1] == 403


def test_lock_headers_on_a_plain_bucket_arerefused(s3: Any) -> None:
    name = f"e2e-plain-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    assert refused(
        s3.put_object,
        Bucket=name,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=later(),
    ) == ("InvalidRequest", 400)
    s3.delete_bucket(Bucket=name)
