"""gateway.unsupported: headers asking for protection the gateway does not give are refused."""

from __future__ import annotations

import pytest

from gateway.errors import S3Error
from gateway.unsupported import refuse_unsupported

OWNER = "owner-id"


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256", "NotImplemented"),
        ("x-amz-server-side-encryption-customer-key", "a2V5", "NotImplemented"),
        ("x-amz-copy-source-server-side-encryption-customer-key-md5", "bWQ1", "NotImplemented"),
        ("x-amz-server-side-encryption", "AES256", "NotImplemented"),
        ("x-amz-server-side-encryption", "aws:kms", "NotImplemented"),
        ("x-amz-server-side-encryption-bucket-key-enabled", "true", "NotImplemented"),
        ("x-amz-object-lock-mode", "COMPLIANCE", "NotImplemented"),
        ("x-amz-object-lock-retain-until-date", "2099-01-01T00:00:00Z", "NotImplemented"),
        ("x-amz-object-lock-legal-hold", "ON", "NotImplemented"),
        ("x-amz-bucket-object-lock-enabled", "true", "NotImplemented"),
        ("x-amz-website-redirect-location", "/x", "NotImplemented"),
        ("x-amz-write-offset-bytes", "10", "NotImplemented"),
        ("x-amz-expected-bucket-owner", "111122223333", "AccessDenied"),
        ("x-amz-source-expected-bucket-owner", "111122223333", "AccessDenied"),
    ],
)
def test_refused(header: str, value: str, code: str) -> None:
    with pytest.raises(S3Error) as info:
        refuse_unsupported({header: value}, OWNER)
    assert info.value.code == code
    if code == "NotImplemented":
        assert info.value.extra["Header"] == header


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-amz-acl", "private"),
        ("x-amz-acl", "bucket-owner-full-control"),
        ("x-amz-object-lock-legal-hold", "OFF"),
        ("x-amz-bucket-object-lock-enabled", "false"),
        ("x-amz-server-side-encryption-bucket-key-enabled", "false"),
        ("x-amz-object-ownership", "BucketOwnerEnforced"),
        ("x-amz-tagging", ""),
        ("x-amz-tagging", "a=b"),  # served (gateway.tagging), refused by a backend without tags
        ("x-amz-expected-bucket-owner", OWNER),
        ("content-type", "text/plain"),
    ],
)
def test_accepted(header: str, value: str) -> None:
    refuse_unsupported({header: value}, OWNER)


def test_source_owner_is_checked_against_the_source_buckets_owner() -> None:
    headers = {"x-amz-expected-bucket-owner": OWNER, "x-amz-source-expected-bucket-owner": "source-owner"}
    refuse_unsupported(headers, OWNER, "source-owner")
    with pytest.raises(S3Error) as info:
        refuse_unsupported(headers, OWNER, "someone-else")
    assert info.value.code == "AccessDenied"


@pytest.mark.parametrize("operation", ["PutObject", "CopyObject", "CreateMultipartUpload"])
def test_lock_headers_are_left_to_the_writes_that_serve_them(operation: str) -> None:
    headers = {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-legal-hold": "ON"}
    refuse_unsupported(
        headers, "owner", operation=operation
    )  # the handler refuses what the bucket cannot lock
    with pytest.raises(S3Error) as err:
        refuse_unsupported(headers, "owner", operation="UploadPart")
    assert err.value.code == "NotImplemented"
    refuse_unsupported({"x-amz-bucket-object-lock-enabled": "true"}, "owner", operation="CreateBucket")
