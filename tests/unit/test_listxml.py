"""The listing's text-built elements (gateway listxml) are byte for byte what lxml writes (xmlio)."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from backends.base import epoch_ns
from backends.fs.format import utc_of_ns
from gateway import listxml
from gateway.identity import Identity
from gateway.ops.buckets import owner
from gateway.xmlio import Doc, add, serialize, timestamp

NASTY = [
    "plain",
    "a&b<c>d",
    "quote\"s'",
    "cr\rlf\n\ttab",
    "ctl\x01\x08\x0b\x1f",
    "\ufffe\uffff",
    "é/日本/🙂",
    "",
]


@pytest.mark.parametrize("value", NASTY)
def test_text_is_what_lxml_writes(value: str) -> None:
    root = etree.Element("R")
    add(root, "Key", value)
    assert serialize(root).split(b"?>\n", 1)[1] == f"<R><Key>{listxml.text(value)}</Key></R>".encode()


def test_a_listing_document_parses_back() -> None:
    from backends.base import Listed

    when = dt.datetime(2026, 12, 2, 12, 0, 1, 234567, tzinfo=dt.timezone.utc)
    objects = [Listed(k, 7, "abc", epoch_ns(when), ("crc32",), None) for k in NASTY[:5]]
    doc = Doc("ListBucketResult")
    add(doc.root, "Name", "b")
    body = listxml.with_children(
        doc, listxml.contents(objects, listxml.text, "") + listxml.common_prefixes(["p&/"], listxml.text)
    )
    root = etree.fromstring(
        body.replace(b"&#x1;", b"").replace(b"&#x8;", b"").replace(b"&#xb;", b"").replace(b"&#x1f;", b"")
    )
    ns = {"s": root.nsmap[None]}
    keys = [el.text or "" for el in root.findall("s:Contents/s:Key", ns)]
    assert keys == ["plain", "a&b<c>d", "quote\"s'", "cr\rlf\n\ttab", "ctl"]
    assert (
        root.findtext("s:Contents/s:LastModified", namespaces=ns)
        == "2026-12-02T12:00:01.234Z"
        == timestamp(when)
    )
    assert root.findtext("s:Contents/s:ETag", namespaces=ns) == '"abc"'
    assert root.findtext("s:Contents/s:ChecksumAlgorithm", namespaces=ns) == "CRC32"
    assert root.findtext("s:Contents/s:StorageClass", namespaces=ns) == "STANDARD"
    assert root.findtext("s:CommonPrefixes/s:Prefix", namespaces=ns) == "p&/"


#: Times around the edges the per-second cache and the millisecond cut must get right.
TIMES_NS = [
    0,
    1,
    999_999,
    1_000_000,
    1_796_219_745_369_427_250,
    1_796_219_745_999_999_600,  # float seconds would round this into the next second
    1_796_219_746_000_000_000,
    -1,  # before the epoch
    -1_500_000_000,
    253_402_300_799_999_999_999,  # the last nanosecond of year 9999
]


@pytest.mark.parametrize("mtime_ns", TIMES_NS)
def test_dates_are_the_timestamps_of_the_same_time(mtime_ns: int) -> None:
    dates = listxml.Dates()
    assert dates(mtime_ns) == timestamp(utc_of_ns(mtime_ns)) == dates(mtime_ns)


def _lxml_owner(parent: etree._Element) -> None:
    owner(parent, Identity("owner-id&1", "Owner & Co", "AKID"))


MIXED = [
    (NASTY[0], (), None),
    (NASTY[1], ("crc32", "sha256"), "STANDARD_IA"),
    (NASTY[3], ("crc64nvme",), None),
    (NASTY[4], (), "GLACIER"),
    (NASTY[6], (), None),
]
#: Keys and ETags that need no escaping (the page-wide checks let them through whole), some with
#: checksum algorithms and storage classes, one page with none.
PLAIN = [("a/b", (), None), ("a-c", ("crc32",), None), ("b.d~", (), "STANDARD_IA"), ("c_e", (), None)]


@pytest.mark.parametrize(
    ("shapes", "etag"),
    [
        (MIXED, "e&{}-2"),
        (MIXED, "{}abcdef"),
        (PLAIN, "{}abcdef"),
        (PLAIN, "e&{}-2"),
        ([s[:1] + ((), None) for s in PLAIN], "{}f"),
    ],
)
def test_contents_are_what_lxml_writes(
    shapes: list[tuple[str, tuple[str, ...], str | None]], etag: str
) -> None:
    """The text-built ``Contents`` and ``CommonPrefixes`` are byte for byte the elements lxml builds."""
    from backends.base import Listed

    objects = [
        Listed(key, i, etag.format(i), TIMES_NS[i % len(TIMES_NS)], algorithms, storage)
        for i, (key, algorithms, storage) in enumerate(shapes)
    ]
    prefixes = ["p/", "q&<r>/", NASTY[4]]
    for with_owner in (False, True):
        reference = etree.Element("R")
        for obj in objects:
            el = add(reference, "Contents")
            add(el, "Key", obj.key)
            add(el, "LastModified", utc_of_ns(obj.mtime_ns))
            add(el, "ETag", f'"{obj.etag}"')
            for alg in obj.checksum_algorithms:
                add(el, "ChecksumAlgorithm", alg.upper())
            add(el, "Size", obj.size)
            if with_owner:
                _lxml_owner(el)
            add(el, "StorageClass", obj.storage_class or "STANDARD")
        for prefix in prefixes:
            add(add(reference, "CommonPrefixes"), "Prefix", prefix)
        holder = etree.Element("H")
        _lxml_owner(holder)
        shown = etree.tostring(holder[0], encoding="unicode") if with_owner else ""
        written = listxml.contents(objects, listxml.text, shown)
        written += listxml.common_prefixes(prefixes, listxml.text)
        assert serialize(reference).split(b"?>\n", 1)[1] == f"<R>{written}</R>".encode()


def test_versions_are_what_lxml_writes() -> None:
    """ListObjectVersions' entries, text-built, are byte for byte the elements lxml builds."""
    from backends.base import ObjectInfo, ObjectMeta, VersionEntry

    entries = [
        VersionEntry(
            ObjectInfo(
                key, i, f"e{i}", utc_of_ns(TIMES_NS[i]), ObjectMeta(storage_class=storage), version, marker
            ),
            latest,
        )
        for i, (key, storage, version, marker, latest) in enumerate(
            [
                (NASTY[0], None, "v&1", False, True),
                (NASTY[0], "STANDARD_IA", None, False, False),
                (NASTY[1], None, "v2", True, True),
                (NASTY[4], None, "v3", False, True),
            ]
        )
    ]
    reference = etree.Element("R")
    for entry in entries:
        info = entry.info
        el = add(reference, "DeleteMarker" if info.delete_marker else "Version")
        add(el, "Key", info.key)
        add(el, "VersionId", info.version_id or "null")
        add(el, "IsLatest", entry.is_latest)
        add(el, "LastModified", info.last_modified)
        if not info.delete_marker:
            add(el, "ETag", f'"{info.etag}"')
            add(el, "Size", info.size)
        _lxml_owner(el)
        if not info.delete_marker:
            add(el, "StorageClass", info.meta.storage_class or "STANDARD")
    holder = etree.Element("H")
    _lxml_owner(holder)
    shown = etree.tostring(holder[0], encoding="unicode")
    written = listxml.versions(entries, listxml.text, shown)
    assert serialize(reference).split(b"?>\n", 1)[1] == f"<R>{written}</R>".encode()
