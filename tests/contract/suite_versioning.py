"""Versioning tests of the contract suite (mixed into BackendContract).

Enabled and suspended buckets, version ids on writes, reads and deletes by id, delete markers, the
version listing with its markers and paging, the ``null`` version, copies from a version. A backend that
keeps no versions says so with ``versioning = False`` and must then refuse PutBucketVersioning with
NotImplementedByBackend (asserted before skipping) while answering as S3 does for a bucket never
versioned.
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from typing import ClassVar

import pytest

from backends import errors as be
from backends.base import Backend, ObjectMeta, VersionEntry
from tests.helpers.bodies import ChunkedBody, get_bytes, need, put_bytes


class VersioningContract:
    #: The backend keeps object versions (PutBucketVersioning works).
    versioning: ClassVar[bool] = True

    async def _enable(self, backend: Backend, bucket: str, status: str = "Enabled") -> None:
        if not self.versioning:
            with pytest.raises(be.NotImplementedByBackend):
                await backend.put_bucket_versioning(bucket, status)
            pytest.skip(
                "the backend keeps no versions (PutBucketVersioning is NotImplemented), as it declares"
            )
        await backend.put_bucket_versioning(bucket, status)

    async def _all_versions(self, backend: Backend, bucket: str, prefix: str = "") -> list[VersionEntry]:
        page = await backend.list_object_versions(bucket, prefix=prefix)
        assert not page.is_truncated
        return page.versions

    async def test_never_versioned_bucket(self, backend: Backend, bucket: str) -> None:
        assert await backend.get_bucket_versioning(bucket) is None
        await put_bytes(backend, bucket, "k", b"one")
        info = await backend.head_object(bucket, "k", "null")
        assert info.size == 3
        listed = await self._all_versions(backend, bucket)
        assert [(v.info.key, v.info.version_id, v.is_latest) for v in listed] == [("k", "null", True)]
        with pytest.raises(be.NoSuchBucket):
            await backend.get_bucket_versioning(bucket + "-missing")

    async def test_enable_and_suspend(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        assert await backend.get_bucket_versioning(bucket) == "Enabled"
        await backend.put_bucket_versioning(bucket, "Suspended")
        assert await backend.get_bucket_versioning(bucket) == "Suspended"

    async def test_versions_have_ids_and_stay_readable(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        first = await put_bytes(backend, bucket, "doc", b"version one")
        second = await put_bytes(backend, bucket, "doc", b"version two")
        assert first.version_id and second.version_id
        assert first.version_id != second.version_id and "null" not in (first.version_id, second.version_id)
        assert await get_bytes(backend, bucket, "doc") == b"version two"
        got = await backend.get_object(bucket, "doc", version_id=first.version_id)
        assert got.info.version_id == first.version_id
        assert b"".join([c async for c in got.body]) == b"version one"
        head = await backend.head_object(bucket, "doc", first.version_id)
        assert (head.size, head.version_id) == (len(b"version one"), first.version_id)
        assert (await backend.head_object(bucket, "doc")).version_id == second.version_id

    async def test_delete_marker_and_restore(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        first = await put_bytes(backend, bucket, "gone", b"data")
        result = await backend.delete_object(bucket, "gone")
        assert result is not None and result.delete_marker and result.version_id
        marker = result.version_id
        with pytest.raises(be.NoSuchKey) as missing:
            await backend.head_object(bucket, "gone")
        if isinstance(missing.value, be.DeleteMarkerCurrent):
            assert missing.value.version_id == marker
        with pytest.raises(be.MethodNotAllowed):
            await backend.head_object(bucket, "gone", marker)
        assert await get_bytes_version(backend, bucket, "gone", first.version_id) == b"data"
        listing = await self._all_versions(backend, bucket)
        assert [(v.info.version_id, v.info.delete_marker, v.is_latest) for v in listing] == [
            (marker, True, True),
            (first.version_id, False, False),
        ]
        assert (await backend.list_objects(bucket)).objects == []
        removed = await backend.delete_object(bucket, "gone", marker)
        assert removed is not None and removed.delete_marker and removed.version_id == marker
        assert await get_bytes(backend, bucket, "gone") == b"data"

    async def test_delete_version_promotes_previous(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        first = await put_bytes(backend, bucket, "k", b"1")
        second = await put_bytes(backend, bucket, "k", b"22")
        assert second.version_id is not None
        result = await backend.delete_object(bucket, "k", second.version_id)
        assert result is not None and not result.delete_marker
        head = await backend.head_object(bucket, "k")
        assert (head.size, head.version_id) == (1, first.version_id)
        with pytest.raises(be.NoSuchVersion):
            await backend.head_object(bucket, "k", second.version_id)

    async def test_list_versions_pages(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        made: list[tuple[str, str]] = []
        for key in ("a", "b/1", "b/2", "c"):
            for n in range(2):
                info = await put_bytes(backend, bucket, key, f"{key}{n}".encode())
                assert info.version_id is not None
                made.append((key, info.version_id))
        expected = [
            kv for key in ("a", "b/1", "b/2", "c") for kv in reversed([m for m in made if m[0] == key])
        ]
        seen: list[tuple[str, str]] = []
        key_marker, version_marker = "", ""
        for _ in range(20):
            page = await backend.list_object_versions(
                bucket, key_marker=key_marker, version_id_marker=version_marker, max_keys=3
            )
            seen += [(v.info.key, v.info.version_id or "") for v in page.versions]
            if not page.is_truncated:
                break
            assert page.next_key_marker is not None
            key_marker, version_marker = page.next_key_marker, page.next_version_id_marker or ""
        assert seen == expected
        rolled = await backend.list_object_versions(bucket, delimiter="/")
        assert rolled.common_prefixes == ["b/"]
        assert [v.info.key for v in rolled.versions] == ["a", "a", "c", "c"]
        latest = [v.is_latest for v in rolled.versions]
        assert latest == [True, False, True, False]

    async def test_suspended_writes_the_null_version(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        kept = await put_bytes(backend, bucket, "k", b"kept")
        await backend.put_bucket_versioning(bucket, "Suspended")
        null = await put_bytes(backend, bucket, "k", b"null one")
        assert null.version_id in ("null", None)
        await put_bytes(backend, bucket, "k", b"null two")  # replaces the null version
        listing = await self._all_versions(backend, bucket)
        assert [(v.info.version_id, v.info.size) for v in listing] == [
            ("null", len(b"null two")),
            (kept.version_id, len(b"kept")),
        ]
        assert await get_bytes_version(backend, bucket, "k", "null") == b"null two"

    async def test_object_from_before_versioning_is_null(self, backend: Backend, bucket: str) -> None:
        await put_bytes(backend, bucket, "old", b"before")
        await self._enable(backend, bucket)
        await put_bytes(backend, bucket, "old", b"after")
        assert await get_bytes_version(backend, bucket, "old", "null") == b"before"
        listing = await self._all_versions(backend, bucket)
        assert [v.info.version_id for v in listing][1] == "null"

    async def test_copy_from_a_version(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        first = await put_bytes(backend, bucket, "src", b"old bytes")
        await put_bytes(backend, bucket, "src", b"new bytes")
        copied = await backend.copy_object(
            bucket, "src", bucket, "dst", None, src_version_id=first.version_id
        )
        assert copied.version_id not in (None, "null", first.version_id)
        assert await get_bytes(backend, bucket, "dst") == b"old bytes"

    async def test_bad_version_ids(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        await put_bytes(backend, bucket, "k", b"x")
        with pytest.raises((be.NoSuchVersion, be.InvalidArgument)):
            await backend.head_object(bucket, "k", "definitely-not-a-version")

    async def test_versioned_bucket_with_versions_is_not_empty(self, backend: Backend, bucket: str) -> None:
        await self._enable(backend, bucket)
        await put_bytes(backend, bucket, "k", b"x")
        await backend.delete_object(bucket, "k")
        with pytest.raises(be.BucketNotEmpty):
            await backend.delete_bucket(bucket)

    async def test_checksums_per_version(self, backend: Backend, bucket: str) -> None:
        """Each version answers its own checksums; deleting one version leaves the others'."""
        need(backend, "stores_checksums")
        await self._enable(backend, bucket)
        sums = {"sha256": b64encode(hashlib.sha256(b"first").digest()).decode()}
        first = await backend.put_object(bucket, "k", ChunkedBody(b"first", checksums=sums), ObjectMeta())
        second = await put_bytes(backend, bucket, "k", b"second")
        third = await backend.put_object(bucket, "k", ChunkedBody(b"first", checksums=sums), ObjectMeta())

        async def stored(version: str | None) -> dict[str, str]:
            head = await backend.head_object(bucket, "k", version)
            return (await backend.stored_checksums(bucket, "k", head)).meta.checksums

        assert [await stored(v.version_id) for v in (first, second, third)] == [sums, {}, sums]
        await backend.delete_object(bucket, "k", third.version_id)
        assert (await stored(None), await stored(first.version_id)) == ({}, sums)


async def get_bytes_version(backend: Backend, bucket: str, key: str, version_id: str | None) -> bytes:
    got = await backend.get_object(bucket, key, version_id=version_id)
    return b"".join([chunk async for chunk in got.body])
