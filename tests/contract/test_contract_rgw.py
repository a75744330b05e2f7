"""The backend contract suite against a real distributed store: Ceph's RADOS Gateway (RGW 16.2, from
Debian's packages), a single-node cluster on loopback shared by the session (``tests/helpers/rgw.py``).

Two backends speak to it: the s3 backend (minio-py) and the OBS backend in ``signature: v4`` mode. Where
RGW itself deviates from AWS S3, the suite's test is marked a strict expected failure with the exact
deviation, so the day RGW behaves like AWS the mark fails and goes. The suite is never weakened.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from backends import errors as be
from backends.base import Backend, ObjectMeta
from backends.obs.backend import build as build_obs
from backends.obs.settings import Settings as ObsSettings
from backends.s3.backend import build as build_s3
from backends.s3.settings import Settings as S3Settings
from tests.contract.stores import META_BUCKET, RecordsAnswerRepeats
from tests.contract.suite import NASTY_KEYS, BackendContract
from tests.helpers.bodies import get_bytes, put_bytes
from tests.helpers.rgw import CONNECT_TIMEOUT, READ_TIMEOUT
from tests.helpers.rgw_cluster import RgwCluster

pytestmark = [pytest.mark.rgw, pytest.mark.anyio]


def rgw_deviation(
    reason: str, raises: type[BaseException] | tuple[type[BaseException], ...]
) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"RGW deviates from AWS: {reason}")


#: ListParts names the wrong error for an upload that does not exist (any more).
LIST_PARTS_NO_SUCH_KEY = rgw_deviation(
    "ListParts of an unknown, completed or aborted upload answers 404 NoSuchKey, not NoSuchUpload",
    be.NoSuchKey,
)


#: Removing a version's retention (an empty Retention document) is refused before the lock is consulted.
EMPTY_RETENTION_MALFORMED = rgw_deviation(
    "PutObjectRetention with an empty Retention (removing it) answers 400 MalformedXML, not 403 AccessDenied "
    "for a version the retention still locks",
    be.InvalidArgument,
)


class RgwContract(BackendContract):
    """The contract suite against RGW, with the deviations from AWS every backend meets marked."""

    @rgw_deviation(
        "HEAD of a delete marker by its version id answers 404 (without x-amz-delete-marker), not 405",
        be.NoSuchVersion,
    )
    async def test_delete_marker_and_restore(self, backend: Backend, bucket: str) -> None:
        await super().test_delete_marker_and_restore(backend, bucket)

    @rgw_deviation("CreateMultipartUpload ignores x-amz-tagging (the object has no tags)", AssertionError)
    async def test_multipart_tags(self, backend: Backend, bucket: str) -> None:
        await super().test_multipart_tags(backend, bucket)

    @LIST_PARTS_NO_SUCH_KEY
    async def test_complete(self, backend: Backend, bucket: str) -> None:
        await super().test_complete(backend, bucket)

    @LIST_PARTS_NO_SUCH_KEY
    async def test_abort(self, backend: Backend, bucket: str) -> None:
        await super().test_abort(backend, bucket)

    @pytest.mark.parametrize(
        "upload_id",
        [
            pytest.param(u, marks=LIST_PARTS_NO_SUCH_KEY)
            for u in ("does-not-exist", "../../etc", "0" * 32, "a/b")
        ]
        + [""],
        ids=repr,
    )
    async def test_unknown_upload(self, backend: Backend, bucket: str, upload_id: str) -> None:
        await super().test_unknown_upload(backend, bucket, upload_id)

    @rgw_deviation(
        "CompleteMultipartUpload of a completed upload id under another key answers 500 'This multipart "
        "completion is already in progress', not NoSuchUpload (the repeat under its own key is right)",
        be.BackendUnavailable,
    )
    async def test_complete_repeated(self, backend: Backend, bucket: str) -> None:
        await super().test_complete_repeated(backend, bucket)

    @rgw_deviation(
        "ListMultipartUploads with a delimiter leaves out CommonPrefixes (and the uploads under them)",
        AssertionError,
    )
    async def test_list_uploads(self, backend: Backend, bucket: str) -> None:
        await super().test_list_uploads(backend, bucket)


class S3RgwContract(RgwContract):
    """With the deviations only the s3 backend's requests meet: the OBS backend sends a ``.`` or ``..``
    segment raw (not as ``%2E``), and refuses ``bytes=-0`` itself without asking."""

    @pytest.mark.parametrize(
        "key",
        [
            pytest.param(
                k,
                marks=rgw_deviation(
                    "its SigV4 canonical URI is the decoded path encoded again, not the path as sent, so a "
                    "'.' or '..' segment sent as %2E (as the s3 backend must, lest urllib3 drop it) fails "
                    "with SignatureDoesNotMatch",
                    be.AccessDenied,
                ),
            )
            if any(seg in (".", "..") for seg in k.split("/"))
            else k
            for k in NASTY_KEYS
        ],
    )
    async def test_nasty_keys(self, backend: Backend, bucket: str, key: str) -> None:
        await super().test_nasty_keys(backend, bucket, key)

    @pytest.mark.parametrize(
        ("first", "last"),
        [
            (1000, None),
            (1000, 2000),
            (5000, 6000),
            pytest.param(
                None,
                0,
                marks=rgw_deviation(
                    "'bytes=-0' answers 206 with the whole object instead of 416", pytest.fail.Exception
                ),
            ),
        ],
        ids=str,
    )
    async def test_unsatisfiable_range(
        self, backend: Backend, bucket: str, first: int | None, last: int | None
    ) -> None:
        await super().test_unsatisfiable_range(backend, bucket, first, last)

    # Conditional writes as S3 has had them since 2024; radosgw 16.2 predates them.
    @rgw_deviation(
        "PutObject with If-Match naming the current ETag answers 412 PreconditionFailed",
        be.PreconditionFailed,
    )
    async def test_if_match(self, backend: Backend, bucket: str) -> None:
        await super().test_if_match(backend, bucket)

    @rgw_deviation("CopyObject ignores If-None-Match: * on the destination", pytest.fail.Exception)
    async def test_conditional_copy(self, backend: Backend, bucket: str) -> None:
        await super().test_conditional_copy(backend, bucket)

    @rgw_deviation("CompleteMultipartUpload ignores If-None-Match: *", pytest.fail.Exception)
    async def test_conditional_complete(self, backend: Backend, bucket: str) -> None:
        await super().test_conditional_complete(backend, bucket)


def _no_lookup(name: str) -> Backend:
    raise KeyError(name)


async def s3_backend(cluster: RgwCluster) -> AsyncIterator[Backend]:
    """The s3 backend on the cluster as its first user, with client timeouts (a wedged store fails)."""
    user = cluster.users[0]
    settings = S3Settings(
        type="s3",
        endpoint=cluster.endpoint,
        access_key=user.access_key,
        secret_key=user.secret_key,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        meta_bucket=META_BUCKET,
    )
    backend = build_s3(settings, name="s3-rgw", lookup=_no_lookup)  # with object records
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


class TestContractS3Rgw(RecordsAnswerRepeats, S3RgwContract):
    object_lock: ClassVar[bool] = True  # the store's own Object Lock, passed through

    @EMPTY_RETENTION_MALFORMED
    async def test_compliance_is_never_removed_early(self, backend: Backend, bucket: str) -> None:
        await super().test_compliance_is_never_removed_early(backend, bucket)

    @EMPTY_RETENTION_MALFORMED
    async def test_governance_yields_to_bypass_only(self, backend: Backend, bucket: str) -> None:
        await super().test_governance_yields_to_bypass_only(backend, bucket)

    @rgw_deviation(
        "a STREAMING-UNSIGNED-PAYLOAD-TRAILER body (the trailing checksum a locked PutObject carries when "
        "the client declared none up front) is refused with XAmzContentSHA256Mismatch (RGW 16 predates it): "
        "the backend answers NotImplemented",
        be.NotImplementedByBackend,
    )
    async def test_lock_without_an_up_front_check(self, backend: Backend, bucket: str) -> None:
        await super().test_lock_without_an_up_front_check(backend, bucket)

    @pytest.fixture
    async def backend(self, rgw_cluster: RgwCluster) -> AsyncIterator[Backend]:
        async for backend in s3_backend(rgw_cluster):
            yield backend


class TestContractObsRgw(RecordsAnswerRepeats, RgwContract):
    """The OBS backend's SigV4 mode (UNSIGNED-PAYLOAD, signed ``x-amz-date``) against RGW."""

    conditional_writes: ClassVar[frozenset[str]] = frozenset()  # OBS writes take no precondition

    @rgw_deviation(
        "CopyObject with x-amz-tagging-directive: REPLACE leaves the copy without the x-amz-tagging given",
        AssertionError,
    )
    async def test_copy_tags(self, backend: Backend, bucket: str) -> None:
        await super().test_copy_tags(backend, bucket)

    @pytest.fixture
    async def backend(self, rgw_cluster: RgwCluster) -> AsyncIterator[Backend]:
        user = rgw_cluster.users[0]
        settings = ObsSettings(
            type="obs",
            server=rgw_cluster.endpoint,
            access_key=user.access_key,
            secret_key=user.secret_key,
            signature="v4",
            region="us-east-1",
            timeout=READ_TIMEOUT,
            meta_bucket=META_BUCKET,
        )
        backend = build_obs(settings, name="obs-rgw", lookup=_no_lookup)
        await backend.start()
        try:
            yield backend
        finally:
            await backend.close()


# -- the store itself ---------------------------------------------------------------------------------
@pytest.fixture
async def s3_rgw(rgw_cluster: RgwCluster) -> AsyncIterator[Backend]:
    async for backend in s3_backend(rgw_cluster):
        yield backend


@rgw_deviation(
    "it decodes an UploadPartCopy source twice: a key with a valid %XX escape after the first decode "
    "is NoSuchKey (CopyObject decodes once and works)",
    be.NoSuchKey,
)
async def test_upload_part_copy_from_percent_key(s3_rgw: Backend) -> None:
    bucket = f"ct-pct-{uuid.uuid4().hex[:8]}"
    await s3_rgw.create_bucket(bucket)
    try:
        await put_bytes(s3_rgw, bucket, "100%41", b"percent")
        upload = await s3_rgw.create_multipart_upload(bucket, "dst", ObjectMeta())
        part = await s3_rgw.upload_part_copy(bucket, "dst", upload, 1, bucket, "100%41", None)
        assert part.size == len(b"percent")
    finally:
        await _drop(s3_rgw, bucket)


async def test_radosgw_abort_is_noticed_and_survived(
    rgw_cluster: RgwCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """radosgw 16.2.15 aborts (SIGABRT; exit 134 in a shell) on an UploadPartCopy whose source key holds
    an invalid escape once decoded (``%zz``). What the session's fixture relies on when that happens: the
    backend fails fast, ``alive()`` names the exit, and ``revive()`` brings radosgw back with the data
    (the OSD keeps it). Fails the day RGW is fixed: then this test goes.

    A cluster of its own (``rgw_cluster`` only for the skip when Ceph is absent): after the abort, the
    session's cluster would make later requests wait ~30 s for leases the dead radosgw held."""
    with RgwCluster(tmp_path_factory.mktemp("rgw-abort")) as cluster:
        async for backend in s3_backend(cluster):
            await backend.create_bucket("abort")
            await put_bytes(backend, "abort", "bad%zz", b"percent")
            upload = await backend.create_multipart_upload("abort", "dst", ObjectMeta())
            started = time.monotonic()
            with pytest.raises(be.BackendUnavailable):
                await backend.upload_part_copy("abort", "dst", upload, 1, "abort", "bad%zz", None)
            assert time.monotonic() - started < READ_TIMEOUT
            cluster.procs["rgw"].wait(timeout=10)
            dead = cluster.alive()
            assert dead is not None and dead.startswith("rgw ") and "exited with -6" in dead, dead
            cluster.revive()
            assert cluster.alive() is None
            assert await get_bytes(backend, "abort", "bad%zz") == b"percent"


async def _drop(backend: Backend, bucket: str) -> None:
    for upload in (await backend.list_multipart_uploads(bucket)).uploads:
        await backend.abort_multipart_upload(bucket, upload.key, upload.upload_id)
    for obj in (await backend.list_objects(bucket)).objects:
        await backend.delete_object(bucket, obj.key)
    await backend.delete_bucket(bucket)
