"""Bucket settings tests of the contract suite (mixed into BackendContract).

The gateway keeps the documents it evaluates itself (ACLs, policies, CORS, ...) through the backend:
fs in the bucket's hidden settings directory, the provider backends in their metadata bucket. Every
backend of the suites is configured to keep them, so every one must pass these.
"""

from __future__ import annotations

import uuid

import pytest

from backends import errors as be
from backends.base import Backend


class SettingsContract:
    async def test_setting_unset_is_none(self, backend: Backend, bucket: str) -> None:
        assert await backend.get_bucket_setting(bucket, "policy") is None
        await backend.delete_bucket_setting(bucket, "policy")  # deleting an unset one is success
        assert await backend.get_bucket_setting(bucket, "policy") is None

    async def test_setting_roundtrip_replace_delete(self, backend: Backend, bucket: str) -> None:
        first = b'{"Version":"2012-10-17","Statement":[]}'
        second = "<CORSConfiguration>\u00e9</CORSConfiguration>".encode()
        await backend.put_bucket_setting(bucket, "policy", first)
        await backend.put_bucket_setting(bucket, "cors", second)
        assert await backend.get_bucket_setting(bucket, "policy") == first
        assert await backend.get_bucket_setting(bucket, "cors") == second
        await backend.put_bucket_setting(bucket, "policy", second)
        assert await backend.get_bucket_setting(bucket, "policy") == second
        await backend.delete_bucket_setting(bucket, "policy")
        assert await backend.get_bucket_setting(bucket, "policy") is None
        assert await backend.get_bucket_setting(bucket, "cors") == second

    async def test_settings_are_per_bucket(self, backend: Backend, bucket: str, other_bucket: str) -> None:
        await backend.put_bucket_setting(bucket, "acl", b"mine")
        assert await backend.get_bucket_setting(other_bucket, "acl") is None

    async def test_setting_of_missing_bucket(self, backend: Backend) -> None:
        missing = f"missing-{uuid.uuid4().hex[:12]}"
        with pytest.raises(be.NoSuchBucket):
            await backend.get_bucket_setting(missing, "policy")
        with pytest.raises(be.NoSuchBucket):
            await backend.put_bucket_setting(missing, "policy", b"{}")

    async def test_settings_die_with_the_bucket(self, backend: Backend) -> None:
        name = f"reborn-{uuid.uuid4().hex[:12]}"
        await backend.create_bucket(name)
        await backend.put_bucket_setting(name, "policy", b"old owner's policy")
        await backend.delete_bucket(name)
        await backend.create_bucket(name)
        try:
            assert await backend.get_bucket_setting(name, "policy") is None
        finally:
            await backend.delete_bucket(name)

    async def test_settings_store_is_not_a_listed_bucket(self, backend: Backend, bucket: str) -> None:
        before = {b.name for b in await backend.list_buckets()}
        await backend.put_bucket_setting(bucket, "ownership", b"BucketOwnerEnforced")
        after = {b.name for b in await backend.list_buckets()}
        assert after <= before | {bucket}
        page = await backend.list_objects(bucket)
        assert page.objects == [] and page.common_prefixes == []  # no object shows the setting
