"""What a sealed object's trailers describe (pure part of ``manifest``): layout, size, S3's ETag."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest

from backends.base import Backend, ObjectInfo
from backends.composite import manifest, sealed
from backends.composite.sealed import Header, SealError


def header(part: int, length: int) -> Header:
    return Header(part, length, os.urandom(12))


def test_a_put_object_is_its_plaintext_md5() -> None:
    md5 = hashlib.md5(b"data").digest()
    found = manifest.build([header(0, 4)], [md5], "store-etag")
    assert (found.size, found.etag, found.md5s) == (4, md5.hex(), (md5,))
    assert [(s.at, s.plain) for s in found.segments] == [(0, 0)]


def test_multipart_is_the_md5_of_part_md5s_and_lays_parts_out() -> None:
    sizes = [5 * 1024 * 1024 + 1, 70_000, 3]
    md5s = [hashlib.md5(str(n).encode()).digest() for n in sizes]
    found = manifest.build([header(n, s) for n, s in enumerate(sizes, start=1)], md5s, "abc-3")
    assert found.etag == hashlib.md5(b"".join(md5s)).hexdigest() + "-3"
    assert found.size == sum(sizes)
    assert [s.plain for s in found.segments] == [0, sizes[0], sizes[0] + sizes[1]]
    assert found.segments[2].at == sealed.stored_size(sizes[0]) + sealed.stored_size(sizes[1])
    assert found.segment_at(sizes[0]) is found.segments[1]
    assert found.segment_at(sizes[0] - 1) is found.segments[0]


def test_without_the_key_the_etag_is_the_stores() -> None:
    assert manifest.build([header(0, 9)], None, "stored").etag == "stored"


@pytest.mark.parametrize(
    "parts,etag",
    [
        ([2, 1], "x-2"),  # out of order
        ([1, 1], "x-2"),  # repeated
        ([0, 1], "x-2"),  # a PutObject segment inside a multipart object
        ([1, 2], "x-3"),  # a part dropped
        ([1], "x"),  # a multipart object cut to its first part, stored as one body
        ([], "x"),
    ],
)
def test_layouts_that_are_not_one_objects_fail(parts: list[int], etag: str) -> None:
    with pytest.raises(SealError):
        manifest.build([header(p, 10) for p in parts], None, etag)


def test_a_put_object_the_store_put_in_parts_reads() -> None:
    """A PutObject's one segment (part 0: no upload's part) is whole by its final package and trailer,
    whatever ETag the store gave it: a store puts a body of unknown length, or one above the s3
    backend's multipart_threshold, in parts of its own."""
    found = manifest.build([header(0, 10)], None, "x-3")
    assert (found.size, found.etag, found.single) == (10, "x-3", True)


def test_store_parts() -> None:
    assert [manifest.store_parts(e) for e in ("abc", "abc-2", "a-b", "abc-10000")] == [None, 2, None, 10000]


def test_the_cache_is_bounded_by_segments() -> None:
    reader = manifest.Reader(Backend())  # never asked: everything here comes from the cache
    when = dt.datetime.now(dt.UTC)
    big = manifest.build([header(n, 10) for n in range(1, 101)], None, "big-100")
    for i in range(manifest.CACHE_SEGMENTS // 100 + 5):
        reader.remember(ObjectInfo(f"k{i}", 1, f"e{i}-100", when), big)
    assert reader._held <= manifest.CACHE_SEGMENTS
    assert reader.cached(ObjectInfo("k0", 1, "e0-100", when)) is False  # the oldest went first
    last = manifest.CACHE_SEGMENTS // 100 + 4
    assert reader.cached(ObjectInfo("k", 1, f"e{last}-100", when)) is big
