"""Listing tests of the contract suite (mixed into BackendContract)."""

from __future__ import annotations

import hashlib
import zlib
from base64 import b64encode

import pytest

from backends import errors as be
from backends.base import Backend, Listed, ListPage, ObjectMeta
from tests.helpers.bodies import ChunkedBody, md5_hex, need, put_bytes, put_many

#: Keys whose UTF-8 order differs from their UTF-16 order (U+FF21 sorts after U+1F600 in UTF-16).
ORDER_KEYS = ["\uff21", "\U0001f600", "\u00e9", "z", "~", "A", "a", "a/b", "a/c/d", "ab", "a-b", "0", " sp"]
DELIM_KEYS = ["a--b--c", "a--d", "a---x", "x--", "x", "b", "a-b", "--lead", "q--r--s"]
MAX_PAGES = 1000


def reference_listing(
    keys: list[str], prefix: str, delimiter: str, start_after: str
) -> list[tuple[str, bool]]:
    """What S3 lists: (name, is_common_prefix) in UTF-8 binary order, which is code point order.

    A common prefix equal to ``start_after`` (a previous page's marker) is not listed again.
    """
    entries: list[tuple[str, bool]] = []
    for key in sorted(k for k in keys if k.startswith(prefix) and k > start_after):
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut < 0:
            entries.append((key, False))
            continue
        common = key[: cut + len(delimiter)]
        if common != start_after and (common, True) not in entries[-1:]:
            entries.append((common, True))
    return entries


def _to_us(listed: Listed) -> Listed:
    """An ObjectInfo's datetime holds microseconds: the light form is compared at that precision."""
    return listed._replace(mtime_ns=listed.mtime_ns // 1000)


async def same_light(backend: Backend, page: ListPage, bucket: str, *args: str | int) -> None:
    """The light form of the page (``list_objects_listed``) says what the page says, object by object."""
    light = await backend.list_objects_listed(bucket, *args)  # type: ignore[arg-type]
    assert [_to_us(o) for o in light.objects] == [_to_us(Listed.of(o)) for o in page.objects]
    assert (light.common_prefixes, light.is_truncated, light.next_marker) == (
        page.common_prefixes,
        page.is_truncated,
        page.next_marker,
    )


async def list_all(
    backend: Backend, bucket: str, prefix: str = "", delimiter: str = "", page_size: int = 1000
) -> list[tuple[str, bool]]:
    """Walk every page, checking each page's shape and marker on the way."""
    seen: list[tuple[str, bool]] = []
    marker = ""
    for _ in range(MAX_PAGES):
        page = await backend.list_objects(bucket, prefix, delimiter, start_after=marker, max_keys=page_size)
        await same_light(backend, page, bucket, prefix, delimiter, marker, page_size)
        entries = sorted([(o.key, False) for o in page.objects] + [(p, True) for p in page.common_prefixes])
        assert [o.key for o in page.objects] == sorted(o.key for o in page.objects)
        assert page.common_prefixes == sorted(page.common_prefixes)
        assert len(entries) <= page_size
        seen += entries
        if not page.is_truncated:
            return seen
        assert entries, "a truncated page must not be empty"
        assert page.next_marker == entries[-1][0]
        marker = page.next_marker
    raise AssertionError("listing did not end")


class ListingContract:
    async def test_empty_bucket(self, backend: Backend, bucket: str) -> None:
        page = await backend.list_objects(bucket)
        assert (page.objects, page.common_prefixes, page.is_truncated) == ([], [], False)

    async def test_utf8_order_and_info(self, backend: Backend, bucket: str) -> None:
        for key in ORDER_KEYS:
            await put_bytes(backend, bucket, key, key.encode())
        page = await backend.list_objects(bucket)
        assert [o.key for o in page.objects] == sorted(ORDER_KEYS, key=lambda k: k.encode())
        await same_light(backend, page, bucket)
        assert not page.is_truncated
        for obj in page.objects:
            assert (obj.size, obj.etag) == (len(obj.key.encode()), md5_hex(obj.key.encode()))
            assert obj.last_modified.tzinfo is not None

    @pytest.mark.parametrize(
        ("prefix", "delimiter", "start_after"),
        [
            ("", "/", ""),
            ("a", "/", ""),
            ("a/", "/", ""),
            ("a/c", "/", ""),
            ("", "", "a"),
            ("", "/", "a"),
            ("", "/", "a/"),
            ("nothing", "/", ""),
            ("\u00e9", "", ""),
        ],
        ids=repr,
    )
    async def test_prefix_delimiter(
        self, backend: Backend, bucket: str, prefix: str, delimiter: str, start_after: str
    ) -> None:
        for key in ORDER_KEYS:
            await put_bytes(backend, bucket, key, b"x")
        page = await backend.list_objects(bucket, prefix, delimiter, start_after)
        await same_light(backend, page, bucket, prefix, delimiter, start_after)
        got = sorted([(o.key, False) for o in page.objects] + [(p, True) for p in page.common_prefixes])
        assert got == reference_listing(ORDER_KEYS, prefix, delimiter, start_after)
        assert not page.is_truncated

    @pytest.mark.parametrize(
        ("prefix", "delimiter"), [("", "--"), ("a", "--"), ("a--", "--"), ("", "-")], ids=repr
    )
    async def test_multichar_delimiter(
        self, backend: Backend, bucket: str, prefix: str, delimiter: str
    ) -> None:
        for key in DELIM_KEYS:
            await put_bytes(backend, bucket, key, b"x")
        got = await list_all(backend, bucket, prefix, delimiter, page_size=2)
        assert got == reference_listing(DELIM_KEYS, prefix, delimiter, "")

    async def test_paging(self, backend: Backend, bucket: str) -> None:
        keys = [f"flat-{i:03d}" for i in range(120)]
        keys += [f"tree/{i % 7}/{i:03d}" for i in range(140)]
        keys += [f"tree/{i}" for i in range(9)]
        keys += [f"z{i}/x" for i in range(13)]
        await put_many(backend, bucket, keys)
        for page_size in (1000, 37, 1):
            got = await list_all(backend, bucket, page_size=page_size)
            assert got == reference_listing(keys, "", "", "")
        for page_size in (1000, 7, 2, 1):
            got = await list_all(backend, bucket, "", "/", page_size=page_size)
            assert got == reference_listing(keys, "", "/", "")
        got = await list_all(backend, bucket, "tree/", "/", page_size=3)
        assert got == reference_listing(keys, "tree/", "/", "")

    async def test_max_keys_zero(self, backend: Backend, bucket: str) -> None:
        await put_bytes(backend, bucket, "k", b"x")
        page = await backend.list_objects(bucket, max_keys=0)
        assert (page.objects, page.common_prefixes) == ([], [])

    async def test_max_keys_exact_fit(self, backend: Backend, bucket: str) -> None:
        for key in ("a", "b", "c/d"):
            await put_bytes(backend, bucket, key, b"x")
        page = await backend.list_objects(bucket, delimiter="/", max_keys=3)
        assert ([o.key for o in page.objects], page.common_prefixes) == (["a", "b"], ["c/"])
        assert not page.is_truncated
        page = await backend.list_objects(bucket, delimiter="/", max_keys=2)
        await same_light(backend, page, bucket, "", "/", "", 2)
        assert [o.key for o in page.objects] == ["a", "b"]
        assert page.is_truncated
        assert page.next_marker == "b"

    async def test_light_form_with_checksums(self, backend: Backend, bucket: str) -> None:
        need(backend, "stores_checksums")
        data = b"listed with its checksums"
        sums = {
            "crc32": b64encode(zlib.crc32(data).to_bytes(4, "big")).decode(),
            "sha256": b64encode(hashlib.sha256(data).digest()).decode(),
        }
        await backend.put_object(bucket, "sum", ChunkedBody(data, checksums=sums), ObjectMeta())
        await put_bytes(backend, bucket, "plain", b"x")
        page = await backend.list_objects(bucket)
        await same_light(backend, page, bucket)

    async def test_list_missing_bucket(self, backend: Backend) -> None:
        with pytest.raises(be.NoSuchBucket):
            await backend.list_objects("ct-missing-listing", delimiter="/")
        with pytest.raises(be.NoSuchBucket):
            await backend.list_objects_listed("ct-missing-listing", delimiter="/")
