"""The tag set on the wire (backends.wire.tagging) and S3's rules (gateway.tagging), without a server."""

from __future__ import annotations

import pytest

from backends.wire.tagging import parse_tagging, parse_tagging_header, tagging_document, tagging_header
from gateway.errors import S3Error
from gateway.tagging import check_tags, tags_from_headers


@pytest.mark.parametrize(
    ("header", "pairs"),
    [
        ("", []),
        ("a=1", [("a", "1")]),
        ("foo=bar&bar", [("foo", "bar"), ("bar", "")]),
        ("k=two+words&x=%2B%26%3D", [("k", "two words"), ("x", "+&=")]),
        ("%C3%BC=%E2%82%AC", [("ü", "€")]),
        ("a=1&&b=2", [("a", "1"), ("b", "2")]),
    ],
)
def test_header_parsing(header: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_tagging_header(header) == pairs


@pytest.mark.parametrize("header", ["a=b=c", "=v", "a=%FF"])
def test_header_refused(header: str) -> None:
    with pytest.raises(ValueError):
        parse_tagging_header(header)


def test_header_round_trip() -> None:
    pairs = [("a b", "c+d"), ("ü/:", "=&@"), ("empty", "")]
    assert parse_tagging_header(tagging_header(pairs)) == pairs


def test_document_round_trip() -> None:
    pairs = [("k", "v"), ("ü", ""), ("<&>", "\"'")]
    assert parse_tagging(tagging_document(pairs)) == pairs
    assert parse_tagging(tagging_document(pairs, ns=False)) == pairs


def test_duplicate_header_names_are_invalid_argument() -> None:
    with pytest.raises(S3Error) as caught:
        tags_from_headers({"x-amz-tagging": "a=1&a=2"})
    assert caught.value.code == "InvalidArgument"


def test_rules() -> None:
    assert check_tags([("Ünïcode 1", "ok _.:/=+-@"), ("٣", "")]) == {"Ünïcode 1": "ok _.:/=+-@", "٣": ""}
    with pytest.raises(S3Error) as caught:
        check_tags([(f"k{n}", "") for n in range(11)])
    assert (caught.value.code, caught.value.status) == ("BadRequest", 400)
    assert len(check_tags([(f"k{n}", "") for n in range(50)], bucket=True)) == 50
    with pytest.raises(S3Error) as caught:
        check_tags([("AWS:x", "")])
    assert caught.value.code == "InvalidTag"
