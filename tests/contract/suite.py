"""The backend contract suite: every Backend runs these tests unchanged, with AWS S3 semantics.

A backend plugs in with ``tests/contract/test_contract_<type>.py``::

    class TestContractFoo(BackendContract):
        @pytest.fixture
        async def backend(self, tmp_path): ...  # yield a started Backend with an empty namespace

``bucket`` and ``other_bucket`` create fresh buckets on it (a backend without bucket administration
overrides them to hand out existing empty buckets). Only what ``capabilities`` declares different is
expected differently; everything else must pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import uuid
import zlib
from base64 import b64encode
from collections.abc import AsyncIterator

import pytest

from backends import errors as be
from backends.base import Backend, ByteRange, ObjectMeta
from tests.contract.suite_attributes import AttributesContract
from tests.contract.suite_conditional import ConditionalContract
from tests.contract.suite_listing import ListingContract
from tests.contract.suite_multipart import MultipartContract
from tests.contract.suite_objectlock import ObjectLockContract
from tests.contract.suite_settings import SettingsContract
from tests.contract.suite_tagging import TaggingContract
from tests.contract.suite_versioning import VersioningContract
from tests.helpers.bodies import (
    BodyFailed,
    ChunkedBody,
    FailingBody,
    MiB,
    get_bytes,
    md5_hex,
    need,
    pattern,
    put_bytes,
    read_all,
)


def _new_bucket_name() -> str:
    return f"ct-{uuid.uuid4().hex[:8]}"


async def _drop_bucket(backend: Backend, name: str) -> None:
    """Best-effort cleanup: empty the bucket (every version), abort its uploads, delete it."""
    with contextlib.suppress(Exception):
        for _ in range(200):
            versions = await backend.list_object_versions(name, max_keys=1000)
            for entry in versions.versions:
                if entry.info.version_id not in (None, "null") or entry.info.delete_marker:
                    await backend.delete_object(name, entry.info.key, entry.info.version_id)
            if not versions.is_truncated:
                break
    with contextlib.suppress(Exception):
        for _ in range(200):
            page = await backend.list_objects(name, max_keys=1000)
            for obj in page.objects:
                await backend.delete_object(name, obj.key)
            if not page.is_truncated:
                break
    with contextlib.suppress(Exception):
        for _ in range(50):
            uploads = await backend.list_multipart_uploads(name)
            for up in uploads.uploads:
                await backend.abort_multipart_upload(name, up.key, up.upload_id)
            if not uploads.is_truncated:
                break
    with contextlib.suppress(Exception):
        await backend.delete_bucket(name)


def _tz_aware(when: dt.datetime) -> bool:
    return when.tzinfo is not None and when.utcoffset() is not None


FULL_META = ObjectMeta(
    content_type="application/x-s3bridge-test; charset=utf-8",
    content_encoding="identity",
    content_disposition='attachment; filename="report 2024.txt"',
    content_language="en-GB",
    cache_control="max-age=3600, must-revalidate",
    expires="Wed, 21 Oct 2037 07:28:00 GMT",
    user={"color": "blue", "multi-word": "two words and spaces", "empty-ish": "-"},
)

NASTY_KEYS = [
    "plain",
    "dir/sub/file.txt",
    "unicode/\u00e9t\u00e9/\u65e5\u672c\u8a9e/\U0001f600.bin",
    "with space/and more spaces .txt",
    "plus+sign+key",
    "percent%20and%2Fescapes%",
    "/leading-slash",
    "trailing-slash/",
    "double//slash",
    "tilde~star*quote'paren()",
    "semi;colon=equals&amp?q#hash",
    "dot/./segment",
    "dotdot/../segment",
    "trailing/..",
]


@pytest.mark.anyio
class BackendContract(
    ListingContract,
    MultipartContract,
    ConditionalContract,
    SettingsContract,
    VersioningContract,
    TaggingContract,
    AttributesContract,
    ObjectLockContract,
):
    """The contract tests; subclasses provide the ``backend`` fixture."""

    @pytest.fixture
    async def backend(self) -> AsyncIterator[Backend]:  # pragma: no cover - always overridden
        raise NotImplementedError("a contract test module must override the backend fixture")
        yield

    @pytest.fixture
    async def bucket(self, backend: Backend) -> AsyncIterator[str]:
        name = _new_bucket_name()
        await backend.create_bucket(name)
        yield name
        await _drop_bucket(backend, name)

    @pytest.fixture
    async def other_bucket(self, backend: Backend) -> AsyncIterator[str]:
        name = _new_bucket_name()
        await backend.create_bucket(name)
        yield name
        await _drop_bucket(backend, name)

    # -- buckets ---------------------------------------------------------------------------------
    async def test_bucket_head_and_list(self, backend: Backend, bucket: str) -> None:
        info = await backend.head_bucket(bucket)
        assert info.name == bucket
        assert _tz_aware(info.created)
        names = [b.name for b in await backend.list_buckets()]
        assert bucket in names
        assert names == sorted(names)

    async def test_create_existing_bucket(self, backend: Backend, bucket: str) -> None:
        with pytest.raises((be.BucketAlreadyOwnedByYou, be.BucketAlreadyExists)):
            await backend.create_bucket(bucket)

    async def test_delete_bucket(self, backend: Backend) -> None:
        name = _new_bucket_name()
        await backend.create_bucket(name)
        await backend.delete_bucket(name)
        with pytest.raises(be.NoSuchBucket):
            await backend.head_bucket(name)
        assert name not in [b.name for b in await backend.list_buckets()]
        with pytest.raises(be.NoSuchBucket):
            await backend.delete_bucket(name)

    async def test_delete_non_empty_bucket(self, backend: Backend, bucket: str) -> None:
        await put_bytes(backend, bucket, "deep/inside/key", b"x")
        with pytest.raises(be.BucketNotEmpty):
            await backend.delete_bucket(bucket)
        assert (await backend.head_bucket(bucket)).name == bucket
        assert await get_bytes(backend, bucket, "deep/inside/key") == b"x"

    async def test_missing_bucket(self, backend: Backend) -> None:
        name = _new_bucket_name()
        with pytest.raises(be.NoSuchBucket):
            await backend.head_bucket(name)
        with pytest.raises(be.NoSuchBucket):
            await backend.head_object(name, "k")
        with pytest.raises(be.NoSuchBucket):
            await backend.get_object(name, "k")
        with pytest.raises(be.NoSuchBucket):
            await backend.delete_object(name, "k")
        with pytest.raises(be.NoSuchBucket):
            await backend.list_objects(name)
        with pytest.raises(be.NoSuchBucket):
            await put_bytes(backend, name, "k", b"data")

    # -- objects ---------------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("size", "chunk"), [(0, 1), (1, 1), (3 * MiB + 17, 65_537), (2 * MiB + 3, 4_099)], ids=str
    )
    async def test_put_get_head_roundtrip(self, backend: Backend, bucket: str, size: int, chunk: int) -> None:
        data = pattern(size, seed=size)
        before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        put = await backend.put_object(bucket, "obj", ChunkedBody(data, chunk), ObjectMeta())
        assert put.etag == md5_hex(data)
        assert put.size == size
        head = await backend.head_object(bucket, "obj")
        assert (head.key, head.size, head.etag) == ("obj", size, md5_hex(data))
        assert _tz_aware(head.last_modified)
        assert before < head.last_modified < dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
        got = await backend.get_object(bucket, "obj")
        assert got.span is None
        assert (got.info.size, got.info.etag) == (size, md5_hex(data))
        assert await read_all(got) == data

    async def test_metadata_roundtrip(self, backend: Backend, bucket: str) -> None:
        await backend.put_object(bucket, "meta", ChunkedBody(b"hello"), FULL_META.copy())
        for info in (
            await backend.head_object(bucket, "meta"),
            (await backend.get_object(bucket, "meta")).info,
        ):
            meta = info.meta
            assert meta.content_type == FULL_META.content_type
            assert meta.content_encoding == FULL_META.content_encoding
            assert meta.content_disposition == FULL_META.content_disposition
            assert meta.content_language == FULL_META.content_language
            assert meta.cache_control == FULL_META.cache_control
            assert meta.expires == FULL_META.expires
            assert meta.user == FULL_META.user

    @pytest.mark.parametrize("key", NASTY_KEYS)
    async def test_nasty_keys(self, backend: Backend, bucket: str, key: str) -> None:
        data = key.encode() * 3
        if key.startswith("/") and not backend.capabilities.leading_slash_keys:
            with pytest.raises(be.InvalidKey):  # the declared gap must be a clean refusal
                await put_bytes(backend, bucket, key, data)
            return
        await put_bytes(backend, bucket, key, data)
        assert (await backend.head_object(bucket, key)).size == len(data)
        assert await get_bytes(backend, bucket, key) == data
        page = await backend.list_objects(bucket)
        assert [o.key for o in page.objects] == [key]
        page = await backend.list_objects(bucket, prefix=key)
        assert [o.key for o in page.objects] == [key]
        await backend.delete_object(bucket, key)
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, key)
        assert (await backend.list_objects(bucket)).objects == []

    async def test_file_and_directory_keys_coexist(self, backend: Backend, bucket: str) -> None:
        keys = ["a", "a/b", "a/b/c", "dir/", "dir/x", "dir", "dir//", "z/"]
        for key in keys:
            await put_bytes(backend, bucket, key, f"<{key}>".encode())
        for key in keys:
            assert await get_bytes(backend, bucket, key) == f"<{key}>".encode()
        page = await backend.list_objects(bucket)
        assert [o.key for o in page.objects] == sorted(keys)
        await backend.delete_object(bucket, "a")
        await backend.delete_object(bucket, "dir/")
        assert await get_bytes(backend, bucket, "a/b") == b"<a/b>"
        assert await get_bytes(backend, bucket, "dir/x") == b"<dir/x>"
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "dir/")
        await backend.delete_object(bucket, "a/b/c")
        assert [o.key for o in (await backend.list_objects(bucket, prefix="a")).objects] == ["a/b"]

    async def test_overwrite_replaces(self, backend: Backend, bucket: str) -> None:
        await backend.put_object(bucket, "k", ChunkedBody(b"first version"), FULL_META.copy())
        new_meta = ObjectMeta(user={"only": "this"})
        info = await backend.put_object(bucket, "k", ChunkedBody(b"second"), new_meta)
        assert info.etag == md5_hex(b"second")
        head = await backend.head_object(bucket, "k")
        assert (head.size, head.etag, head.meta.user) == (6, md5_hex(b"second"), {"only": "this"})
        assert head.meta.cache_control is None
        assert await get_bytes(backend, bucket, "k") == b"second"
        assert len((await backend.list_objects(bucket)).objects) == 1

    async def test_missing_key(self, backend: Backend, bucket: str) -> None:
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "nope")
        with pytest.raises(be.NoSuchKey):
            await backend.get_object(bucket, "nope")
        with pytest.raises(be.NoSuchKey):
            await backend.get_object(bucket, "nope", ByteRange(0, 10))
        await backend.delete_object(bucket, "nope")
        await put_bytes(backend, bucket, "d/e", b"x")
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "d")
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "d/")

    # -- ranges ----------------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("first", "last", "span"),
        [
            (0, 0, (0, 0)),
            (10, 19, (10, 19)),
            (0, 999, (0, 999)),
            (990, None, (990, 999)),
            (None, 100, (900, 999)),
            (None, 5000, (0, 999)),
            (500, 5000, (500, 999)),
            (999, 999, (999, 999)),
        ],
        ids=str,
    )
    async def test_range(
        self, backend: Backend, bucket: str, first: int | None, last: int | None, span: tuple[int, int]
    ) -> None:
        data = pattern(1000, seed=7)
        await put_bytes(backend, bucket, "r", data)
        got = await backend.get_object(bucket, "r", ByteRange(first, last))
        assert got.span == span
        assert got.info.size == 1000
        assert await read_all(got) == data[span[0] : span[1] + 1]

    async def test_large_range(self, backend: Backend, bucket: str) -> None:
        data = pattern(3 * MiB, seed=3)
        await put_bytes(backend, bucket, "big", data)
        got = await backend.get_object(bucket, "big", ByteRange(MiB - 5, 2 * MiB + 11))
        assert await read_all(got) == data[MiB - 5 : 2 * MiB + 12]

    @pytest.mark.parametrize(
        ("first", "last"), [(1000, None), (1000, 2000), (5000, 6000), (None, 0)], ids=str
    )
    async def test_unsatisfiable_range(
        self, backend: Backend, bucket: str, first: int | None, last: int | None
    ) -> None:
        await put_bytes(backend, bucket, "r", pattern(1000))
        with pytest.raises(be.InvalidRange) as caught:
            await backend.get_object(bucket, "r", ByteRange(first, last))
        assert caught.value.size == 1000

    # -- atomicity and checksums -----------------------------------------------------------------
    async def test_failed_body_leaves_nothing(self, backend: Backend, bucket: str) -> None:
        body = FailingBody(pattern(3 * MiB), fail_after=2 * MiB + 1)
        with pytest.raises(BodyFailed):
            await backend.put_object(bucket, "partial", body, ObjectMeta())
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "partial")
        assert (await backend.list_objects(bucket)).objects == []

    async def test_failed_body_keeps_previous_version(self, backend: Backend, bucket: str) -> None:
        old = pattern(100_000, seed=1)
        await backend.put_object(bucket, "k", ChunkedBody(old), FULL_META.copy())
        before = await backend.head_object(bucket, "k")
        with pytest.raises(BodyFailed):
            await backend.put_object(
                bucket, "k", FailingBody(pattern(MiB, 2), fail_after=70_000), ObjectMeta()
            )
        after = await backend.head_object(bucket, "k")
        assert (after.size, after.etag, after.meta.user) == (before.size, before.etag, FULL_META.user)
        assert await get_bytes(backend, bucket, "k") == old

    async def test_checksums_stored(self, backend: Backend, bucket: str) -> None:
        need(backend, "stores_checksums")
        data = pattern(300_000, seed=9)
        sums = {
            "crc32": b64encode(zlib.crc32(data).to_bytes(4, "big")).decode(),
            "sha256": b64encode(hashlib.sha256(data).digest()).decode(),
        }
        await backend.put_object(bucket, "sum", ChunkedBody(data, 70_001, checksums=sums), ObjectMeta())
        head = await backend.stored_checksums(bucket, "sum", await backend.head_object(bucket, "sum"))
        assert {k: head.meta.checksums.get(k) for k in sums} == sums
        got = await backend.get_object(bucket, "sum")
        await read_all(got)
        info = await backend.stored_checksums(bucket, "sum", got.info)
        assert {k: info.meta.checksums.get(k) for k in sums} == sums

    # -- copy ------------------------------------------------------------------------------------
    async def test_copy_keeps_meta(self, backend: Backend, bucket: str) -> None:
        need(backend, "server_side_copy")
        data = pattern(200_000, seed=4)
        await backend.put_object(bucket, "src", ChunkedBody(data), FULL_META.copy())
        info = await backend.copy_object(bucket, "src", bucket, "dst/copy", None)
        assert (info.etag, info.size) == (md5_hex(data), len(data))
        head = await backend.head_object(bucket, "dst/copy")
        assert (head.meta.content_type, head.meta.user) == (FULL_META.content_type, FULL_META.user)
        assert await get_bytes(backend, bucket, "dst/copy") == data
        assert await get_bytes(backend, bucket, "src") == data

    async def test_copy_keeps_checksums(self, backend: Backend, bucket: str, other_bucket: str) -> None:
        need(backend, "server_side_copy")
        need(backend, "stores_checksums")
        data = pattern(70_000, seed=8)
        sums = {"sha256": b64encode(hashlib.sha256(data).digest()).decode()}
        await backend.put_object(bucket, "src", ChunkedBody(data, checksums=sums), ObjectMeta())
        await backend.copy_object(bucket, "src", other_bucket, "dst", ObjectMeta(user={"new": "meta"}))
        head = await backend.head_object(other_bucket, "dst")
        assert (await backend.stored_checksums(other_bucket, "dst", head)).meta.checksums == sums

    async def test_copy_cross_bucket_replaces_meta(
        self, backend: Backend, bucket: str, other_bucket: str
    ) -> None:
        need(backend, "server_side_copy")
        data = pattern(3 * MiB + 1, seed=5)
        await backend.put_object(bucket, "src", ChunkedBody(data), FULL_META.copy())
        meta = ObjectMeta(content_type="text/plain", user={"new": "meta"})
        info = await backend.copy_object(bucket, "src", other_bucket, "dst", meta)
        assert info.etag == md5_hex(data)
        head = await backend.head_object(other_bucket, "dst")
        assert (head.meta.content_type, head.meta.user, head.size) == (
            "text/plain",
            {"new": "meta"},
            len(data),
        )
        assert head.meta.cache_control is None
        assert await get_bytes(backend, other_bucket, "dst") == data

    async def test_copy_onto_itself_replaces_meta(self, backend: Backend, bucket: str) -> None:
        need(backend, "server_side_copy")
        await backend.put_object(bucket, "self", ChunkedBody(b"same data"), FULL_META.copy())
        await backend.copy_object(bucket, "self", bucket, "self", ObjectMeta(user={"v": "2"}))
        head = await backend.head_object(bucket, "self")
        assert head.meta.user == {"v": "2"}
        assert await get_bytes(backend, bucket, "self") == b"same data"

    async def test_copy_missing_source(self, backend: Backend, bucket: str) -> None:
        need(backend, "server_side_copy")
        with pytest.raises(be.NoSuchKey):
            await backend.copy_object(bucket, "missing", bucket, "dst", None)
        with pytest.raises(be.NoSuchBucket):
            await backend.copy_object(_new_bucket_name(), "missing", bucket, "dst", None)
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "dst")
