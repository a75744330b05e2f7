"""The object record format and its staleness rule (pure), and the multipart checksum rule it shares
with the fs backend."""

from __future__ import annotations

import datetime as dt

import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectInfo, ObjectPart
from backends.multipartsums import multipart_checksums
from backends.objectrecords import ObjectRecord, RecordStore, version_name
from backends.wire.checksums import Checksummer, combine_composite, combine_full_object

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)


def crc32(data: bytes) -> str:
    checker = Checksummer("crc32")
    checker.update(data)
    return checker.b64digest()


def test_record_round_trip() -> None:
    record = ObjectRecord(
        "ключ/k", "abc-2", "v1", {"crc32": "AAAAAA=="}, "COMPOSITE",
        [ObjectPart(1, 5 << 20, {"crc32": "AQIDBA=="}), ObjectPart(2, 7, {})], "upload-1",
    )  # fmt: skip
    assert ObjectRecord.load(record.dump()) == record
    plain = ObjectRecord("k", "d41d8cd98f00b204e9800998ecf8427e", "null", {"sha256": "x"})
    assert ObjectRecord.load(plain.dump()) == plain


@pytest.mark.parametrize(
    ("key", "etag", "version", "served"),
    [
        ("k", "e", None, True),
        ("k", "e", "null", True),
        ("k", "other", None, False),  # replaced: another ETag
        ("k", "e", "v2", False),  # another version
        ("k2", "e", None, False),
    ],
)
def test_a_record_describes_only_its_object(key: str, etag: str, version: str | None, served: bool) -> None:
    record = ObjectRecord("k", "e", "null", {"crc32": "AAAAAA=="})
    assert record.describes(ObjectInfo(key, 1, etag, NOW, version_id=version)) is served


def test_record_keys_fit_the_store_and_keep_versions_apart() -> None:
    store = RecordStore(None, "meta")  # type: ignore[arg-type]
    long_key = "ä" * 512  # 1024 bytes: the prefix must not push the record's key past the limit
    made = store._object_key("bucket", long_key, "null")
    assert len(made.encode()) < 200
    assert made != store._object_key("bucket", long_key[:-1], "null")
    assert store._object_key("b", "k", "a/b") != store._object_key("b", "k", "a")
    assert "/" not in store._object_key("b", "k", "a/b").rsplit("/", 1)[1]
    assert version_name(None) == version_name("null") == "null"


def test_multipart_checksums_as_the_upload_asked() -> None:
    datas = [b"a" * 100, b"b" * 7]
    stored = [(len(d), {"crc32": crc32(d)}) for d in datas]
    given = [CompletedPart(1, "e1"), CompletedPart(2, "e2")]
    assert multipart_checksums(stored, [], None, given) == (
        {"crc32": combine_composite("crc32", [crc32(d) for d in datas])},
        "COMPOSITE",
    )
    full, kind = multipart_checksums(stored, ["crc32"], "FULL_OBJECT", given)
    assert (full["crc32"], kind) == (crc32(b"".join(datas)), "FULL_OBJECT")
    assert full["crc32"] == combine_full_object("crc32", [(crc32(d), len(d)) for d in datas])
    assert multipart_checksums([(3, {}), (4, {})], [], None, given) == ({}, None)


def test_multipart_checksums_refuse_what_does_not_match() -> None:
    stored = [(1, {"crc32": crc32(b"x")}), (1, {})]
    with pytest.raises(be.InvalidPart):  # the upload asked for CRC32, part 2 has none
        multipart_checksums(stored, ["crc32"], "COMPOSITE", [CompletedPart(1, "e"), CompletedPart(2, "e")])
    with pytest.raises(be.InvalidPart):  # the client names a CRC32 the part was not uploaded with
        multipart_checksums(
            stored, [], None, [CompletedPart(1, "e", {"crc32": crc32(b"y")}), CompletedPart(2, "e")]
        )
