"""The gateway's cache of bucket settings, and a provider backend without a metadata bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import errors as be
from backends.fs.backend import FsBackend
from backends.s3.backend import S3Backend
from backends.s3.settings import Settings
from gateway.bucketsettings import BucketSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fs(tmp_path: Path) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", fsync=False)
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_another_replicas_change_is_seen_after_the_ttl(fs: FsBackend) -> None:
    clock = Clock()
    mine, theirs = BucketSettings(fs, ttl=2.0, clock=clock), BucketSettings(fs, ttl=2.0, clock=clock)
    assert await mine.get("b", "policy") is None
    await theirs.put("b", "policy", b"new")
    assert await mine.get("b", "policy") is None  # still cached
    clock.now += 2.5
    assert await mine.get("b", "policy") == b"new"
    await mine.delete("b", "policy")
    assert await mine.get("b", "policy") is None  # its own change: at once
    assert await fs.get_bucket_setting("b", "policy") is None


async def test_cache_is_bounded(fs: FsBackend) -> None:
    cache = BucketSettings(fs, max_entries=3)
    for name in ("acl", "policy", "cors", "ownership", "encryption"):
        await cache.get("b", name)
    assert len(cache._cache) == 3


async def test_missing_bucket_is_not_cached(fs: FsBackend) -> None:
    cache = BucketSettings(fs)
    with pytest.raises(be.NoSuchBucket):
        await cache.get("nope", "policy")
    await fs.create_bucket("nope")
    assert await cache.get("nope", "policy") is None


async def test_unknown_setting_name_is_a_bug(fs: FsBackend) -> None:
    with pytest.raises(ValueError):
        await fs.put_bucket_setting("b", "../../etc/passwd", b"x")


async def test_provider_without_meta_bucket_names_the_setting() -> None:
    backend = S3Backend(Settings(type="s3", endpoint="http://127.0.0.1:9"), name="s3-plain")
    try:
        with pytest.raises(be.NotImplementedByBackend, match="meta_bucket"):
            await backend.get_bucket_setting("b", "policy")
        assert await BucketSettings(backend).get_if_supported("b", "policy") is None
    finally:
        await backend.close()
