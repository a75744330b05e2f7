"""The listing's text-built elements (gateway listxml) are byte for byte what lxml writes (xmlio)."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from gateway import listxml
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
    from backends.base import ObjectInfo, ObjectMeta

    when = dt.datetime(2026, 12, 2, 12, 0, 1, 234567, tzinfo=dt.timezone.utc)
    objects = [
        ObjectInfo(k, 7, "abc", when, ObjectMeta(checksums={"crc32": "x"}, storage_class=None))
        for k in NASTY[:5]
    ]
    doc = Doc("ListBucketResult")
    add(doc.root, "Name", "b")
    body = listxml.with_children(
        doc, listxml.contents(objects, str, "") + listxml.common_prefixes(["p&/"], str)
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
