"""What the contract suites of the S3-protocol backends (s3, obs in v4 mode) share: moto's known
deviations from AWS (the store fixtures themselves are in this folder's conftest.py).

moto is the S3 server that installs offline; where it differs from AWS the suite's test is marked a
strict expected failure, so the day moto behaves like AWS the mark fails and goes.
"""

from __future__ import annotations

import pytest

from backends import errors as be
from backends.base import Backend
from tests.contract.suite import BackendContract

#: The key pair of the s3bridge process that serves as a signature-checking store.
GATEWAY_KEY = "contract-store-access"
GATEWAY_SECRET = "contract-store-secret-0123456789"
#: The metadata bucket the provider backends of the suites keep bucket settings in.
META_BUCKET = "s3bridge-contract-meta"


def moto_deviation(
    reason: str, raises: type[BaseException] | tuple[type[BaseException], ...]
) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"moto deviates from AWS: {reason}")


#: PutObjectRetention is applied whatever the retention in force (the lock still guards deletes).
RETENTION_UNCHECKED = moto_deviation(
    "PutObjectRetention never refuses: a COMPLIANCE retention is shortened, weakened or removed, a "
    "GOVERNANCE one removed without x-amz-bypass-governance-retention",
    pytest.fail.Exception,
)

#: CompleteMultipartUpload of a completed upload id under another key (the repeat under its own key is right).
COMPLETED_UPLOAD_OTHER_KEY_500 = moto_deviation(
    "CompleteMultipartUpload of a completed upload id under another key answers 500, not NoSuchUpload",
    be.BackendUnavailable,
)
UNKNOWN_UPLOAD_500 = moto_deviation("UploadPart with an unknown upload id answers 500", be.BackendUnavailable)


class MotoContract(BackendContract):
    """The contract suite against moto, with moto's deviations from AWS marked."""

    @UNKNOWN_UPLOAD_500
    async def test_abort(self, backend: Backend, bucket: str) -> None:
        await super().test_abort(backend, bucket)

    @pytest.mark.parametrize(
        "upload_id",
        [pytest.param(u, marks=UNKNOWN_UPLOAD_500) for u in ("does-not-exist", "../../etc", "0" * 32, "a/b")]
        + [""],
        ids=repr,
    )
    async def test_unknown_upload(self, backend: Backend, bucket: str, upload_id: str) -> None:
        await super().test_unknown_upload(backend, bucket, upload_id)

    @COMPLETED_UPLOAD_OTHER_KEY_500
    async def test_complete_repeated(self, backend: Backend, bucket: str) -> None:
        await super().test_complete_repeated(backend, bucket)

    @moto_deviation("an upload id is accepted for any key", pytest.fail.Exception)
    async def test_upload_id_bound_to_key(self, backend: Backend, bucket: str) -> None:
        await super().test_upload_id_bound_to_key(backend, bucket)

    @moto_deviation("ListParts counts part-number-marker as an index, skipping parts", AssertionError)
    async def test_list_parts_paging(self, backend: Backend, bucket: str) -> None:
        await super().test_list_parts_paging(backend, bucket)

    @moto_deviation("ListMultipartUploads ignores delimiter and max-uploads, lists unsorted", AssertionError)
    async def test_list_uploads(self, backend: Backend, bucket: str) -> None:
        await super().test_list_uploads(backend, bucket)


class RecordsAnswerRepeats:
    """For a backend with object records (``meta_bucket``) on a store that mishandles a repeated
    CompleteMultipartUpload (moto, Ceph RGW): the records answer it, so the store's deviation marked on
    the suite class no longer shows. Mixed in before that class."""

    async def test_complete_repeated(self, backend: Backend, bucket: str) -> None:
        await super().test_complete_repeated(backend, bucket)  # type: ignore[misc]


class MotoVersioningContract(MotoContract):
    """The suite against a backend on moto that passes versions through (s3, obs in v4 mode): moto's
    versioning deviations from AWS, marked once for every class that runs it (plain and under encrypt)."""

    @RETENTION_UNCHECKED
    async def test_compliance_is_never_removed_early(self, backend: Backend, bucket: str) -> None:
        await super().test_compliance_is_never_removed_early(backend, bucket)

    @RETENTION_UNCHECKED
    async def test_governance_yields_to_bypass_only(self, backend: Backend, bucket: str) -> None:
        await super().test_governance_yields_to_bypass_only(backend, bucket)

    @pytest.mark.xfail(
        strict=True,
        reason="moto deviates from AWS: versionId=null on a bucket never versioned is 400 Bad request",
    )
    async def test_never_versioned_bucket(self, backend: Backend, bucket: str) -> None:
        await super().test_never_versioned_bucket(backend, bucket)

    @moto_deviation(
        "a version written while versioning is suspended drops the key's older versions", AssertionError
    )
    async def test_suspended_writes_the_null_version(self, backend: Backend, bucket: str) -> None:
        await super().test_suspended_writes_the_null_version(backend, bucket)

    @moto_deviation(
        "DeleteObject of a delete marker by version id omits x-amz-delete-marker: true", AssertionError
    )
    async def test_delete_marker_and_restore(self, backend: Backend, bucket: str) -> None:
        await super().test_delete_marker_and_restore(backend, bucket)

    @moto_deviation("CopyObject ignores If-None-Match and If-Match on the destination", pytest.fail.Exception)
    async def test_conditional_copy(self, backend: Backend, bucket: str) -> None:
        await super().test_conditional_copy(backend, bucket)
