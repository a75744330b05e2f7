"""gateway.xmlio: what the answers carry when a key holds characters XML 1.0 cannot."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.xmlio import Doc, add, error_document


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"])
def test_characters_xml_cannot_carry_become_character_references(char: str) -> None:
    doc = Doc("ListBucketResult")
    add(add(doc.root, "Contents"), "Key", f"a{char}b")
    data = doc.to_bytes()
    assert f"<Key>a&#x{ord(char):x};b</Key>".encode() in data
    assert char.encode() not in data


def test_ordinary_text_is_untouched_and_parses() -> None:
    doc = Doc("R")
    add(doc.root, "Key", "tab\there\nnew <&> \u00e9\ue000")
    parsed = etree.fromstring(doc.to_bytes())
    assert parsed[0].text == "tab\there\nnew <&> \u00e9\ue000"


def test_error_document_naming_such_a_key() -> None:
    body = error_document("NoSuchKey", "gone", "/b/k", "RID", {"Key": "k\x01"})
    assert b"<Key>k&#x1;</Key>" in body
