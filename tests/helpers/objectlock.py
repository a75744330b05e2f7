"""Object Lock as a boto3 client sees it, shared by the end-to-end tests of every backend that locks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.exceptions
import pytest


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int]:
    """(error code, HTTP status) of a call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def later(days: int = 1) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=days)


def compliance_survives_owner(s3: Any, bucket: str, key: str = "backup") -> tuple[str, dt.datetime]:
    """A COMPLIANCE version put by the owner: its lock answered on HEAD; a delete of it refused, with or
    without the governance bypass, alone or in a batch; a delete without a version only adds a marker; the
    version still reads, its retention unchanged. (version id, retain-until date) for further checks."""
    until = later()
    put = s3.put_object(
        Bucket=bucket, Key=key, Body=b"precious", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )
    version = put["VersionId"]
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=version)
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    assert refused(s3.delete_object, Bucket=bucket, Key=key, VersionId=version) == ("AccessDenied", 403)
    assert refused(
        s3.delete_object, Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
    ) == ("AccessDenied", 403)
    batch = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": key, "VersionId": version}]},
        BypassGovernanceRetention=True,
    )
    assert [e["Code"] for e in batch["Errors"]] == ["AccessDenied"]
    marker = s3.delete_object(Bucket=bucket, Key=key)  # no version: a delete marker, allowed
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read() == b"precious"
    retention = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    return version, until
