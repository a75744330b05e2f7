"""Object Lock tests of the contract suite (mixed into BackendContract).

A backend that serves Object Lock enforces it itself: a version under COMPLIANCE retention or a legal
hold is never removed, a GOVERNANCE one only through ``delete_object_bypassing_governance``, and
retention is only ever made stricter without the bypass. A backend that cannot lock declares
``object_lock = False`` and must then refuse ``enable_object_lock`` with NotImplementedByBackend
(asserted before skipping), so the gateway never hands it lock fields it would ignore.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import anyio
import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectMeta
from tests.helpers.bodies import ChunkedBody, DeclaredBody, get_bytes


def _iso(delta: dt.timedelta) -> str:
    return _iso_at(dt.datetime.now(dt.timezone.utc) + delta)


def _iso_at(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


class ObjectLockContract:
    #: The backend keeps and enforces Object Lock (enable_object_lock works).
    object_lock: ClassVar[bool] = False

    async def _locked_bucket(self, backend: Backend, bucket: str) -> None:
        if not self.object_lock:
            with pytest.raises(be.NotImplementedByBackend):
                await backend.enable_object_lock(bucket)
            pytest.skip("the backend cannot lock objects (enable_object_lock is NotImplemented), as declared")
        await backend.enable_object_lock(bucket)
        assert await backend.get_bucket_versioning(bucket) == "Enabled"

    async def _put_locked(
        self, backend: Backend, bucket: str, key: str, body: ChunkedBody | None = None, **lock: object
    ) -> str:
        """A locked version, its body declaring Content-MD5 up front as S3 requires of a locking client."""
        body = body if body is not None else DeclaredBody(key.encode())
        info = await backend.put_object(bucket, key, body, ObjectMeta(**lock))  # type: ignore[arg-type]
        assert info.version_id not in (None, "null")
        return info.version_id or ""

    async def test_compliance_is_never_removed_early(self, backend: Backend, bucket: str) -> None:
        await self._locked_bucket(backend, bucket)
        until = _iso(DAY)
        version = await self._put_locked(
            backend, bucket, "c", lock_mode="COMPLIANCE", lock_retain_until=until
        )
        head = await backend.head_object(bucket, "c", version)
        assert (head.meta.lock_mode, head.meta.lock_retain_until) == ("COMPLIANCE", until)
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object(bucket, "c", version)
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object_bypassing_governance(bucket, "c", version)
        for mode, date in (("COMPLIANCE", _iso(DAY / 2)), ("GOVERNANCE", _iso(2 * DAY)), (None, None)):
            with pytest.raises(be.ObjectLocked):
                await backend.put_object_retention(bucket, "c", version, mode, date, bypass_governance=True)
        longer = _iso(2 * DAY)
        await backend.put_object_retention(bucket, "c", version, "COMPLIANCE", longer)
        assert (await backend.head_object(bucket, "c", version)).meta.lock_retain_until == longer
        marker = await backend.delete_object(bucket, "c")  # no version: a delete marker, allowed
        assert marker is not None and marker.delete_marker
        assert await get_bytes_version(backend, bucket, "c", version) == b"c"

    async def test_governance_yields_to_bypass_only(self, backend: Backend, bucket: str) -> None:
        await self._locked_bucket(backend, bucket)
        version = await self._put_locked(
            backend, bucket, "g", lock_mode="GOVERNANCE", lock_retain_until=_iso(DAY)
        )
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object(bucket, "g", version)
        with pytest.raises(be.ObjectLocked):
            await backend.put_object_retention(bucket, "g", version, None, None)
        await backend.put_object_retention(bucket, "g", version, "COMPLIANCE", _iso(DAY))  # stricter: allowed
        other = await self._put_locked(
            backend, bucket, "g2", lock_mode="GOVERNANCE", lock_retain_until=_iso(DAY)
        )
        await backend.delete_object_bypassing_governance(bucket, "g2", other)
        with pytest.raises(be.NoSuchVersion):
            await backend.head_object(bucket, "g2", other)

    async def test_legal_hold_blocks_until_released(self, backend: Backend, bucket: str) -> None:
        await self._locked_bucket(backend, bucket)
        version = await self._put_locked(backend, bucket, "h", legal_hold=True)
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object_bypassing_governance(bucket, "h", version)
        released = await backend.put_object_legal_hold(bucket, "h", version, False)
        assert released.meta.legal_hold is False
        await backend.put_object_legal_hold(bucket, "h", None, True)  # the current version
        assert (await backend.head_object(bucket, "h", version)).meta.legal_hold is True
        await backend.put_object_legal_hold(bucket, "h", version, False)
        await backend.delete_object(bucket, "h", version)
        assert (await backend.list_object_versions(bucket, prefix="h")).versions == []

    async def test_expired_retention_no_longer_locks(self, backend: Backend, bucket: str) -> None:
        await self._locked_bucket(backend, bucket)
        # A date in the future when written (a store refuses a past one, as S3 does), passed soon after.
        until = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + 3 * SECOND
        version = await self._put_locked(
            backend, bucket, "old", lock_mode="COMPLIANCE", lock_retain_until=_iso_at(until)
        )
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object(bucket, "old", version)
        await anyio.sleep((until - dt.datetime.now(dt.timezone.utc)).total_seconds() + 0.5)
        await backend.delete_object(bucket, "old", version)
        with pytest.raises(be.NoSuchKey):
            await get_bytes(backend, bucket, "old")

    async def test_lock_without_an_up_front_check(self, backend: Backend, bucket: str) -> None:
        """A body whose client declared no integrity value before the bytes (its checksum came in a
        trailer, or a composite changed the bytes) locks all the same."""
        await self._locked_bucket(backend, bucket)
        version = await self._put_locked(backend, bucket, "t", ChunkedBody(b"t" * 70_000), legal_hold=True)
        assert (await backend.head_object(bucket, "t", version)).meta.legal_hold is True
        assert await get_bytes_version(backend, bucket, "t", version) == b"t" * 70_000
        await backend.put_object_legal_hold(bucket, "t", version, False)

    async def test_copy_and_multipart_lock_the_new_version(self, backend: Backend, bucket: str) -> None:
        await self._locked_bucket(backend, bucket)
        source = await self._put_locked(backend, bucket, "src")
        until = _iso(DAY)
        lock = ObjectMeta(lock_mode="COMPLIANCE", lock_retain_until=until)
        copy = await backend.copy_object(bucket, "src", bucket, "copy", lock, src_version_id=source)
        head = await backend.head_object(bucket, "copy", copy.version_id)
        assert (head.meta.lock_mode, head.meta.lock_retain_until) == ("COMPLIANCE", until)
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object(bucket, "copy", copy.version_id)
        upload = await backend.create_multipart_upload(bucket, "mp", ObjectMeta(legal_hold=True))
        part = await backend.upload_part(bucket, "mp", upload, 1, DeclaredBody(b"mp"))
        done = await backend.complete_multipart_upload(bucket, "mp", upload, [CompletedPart(1, part.etag)])
        assert (await backend.head_object(bucket, "mp", done.version_id)).meta.legal_hold is True
        with pytest.raises(be.ObjectLocked):
            await backend.delete_object(bucket, "mp", done.version_id)
        await backend.put_object_legal_hold(bucket, "mp", done.version_id, False)
        await backend.delete_object(bucket, "mp", done.version_id)


async def get_bytes_version(backend: Backend, bucket: str, key: str, version_id: str) -> bytes:
    got = await backend.get_object(bucket, key, version_id=version_id)
    return b"".join([chunk async for chunk in got.body])
