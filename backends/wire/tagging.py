"""Tag sets on the S3 wire, both sides (pure code): the ``<Tagging>`` document and the ``x-amz-tagging``
header.

The document is what PutObjectTagging / PutBucketTagging send and the Get operations answer; the header is
the tag set as URL query parameters (``k1=v1&k2=v2``, form-encoded, so ``+`` is a space) that PutObject,
CreateMultipartUpload and CopyObject carry. Limits and allowed characters are the gateway's business
(``gateway.tagging``); this module only translates, refusing input it cannot read with ValueError.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, unquote_plus

from lxml import etree

from backends.wire.xml import S3_NS, child_text, children, local, parse_safe

#: A tag set as sent, in order; duplicates are kept so the caller can refuse them.
TagPairs = list[tuple[str, str]]


def parse_tagging(data: bytes) -> TagPairs:
    """``<Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>`` → pairs; ValueError when the
    document is not that shape (a Tag without Key or Value, no TagSet, another root)."""
    try:
        root = parse_safe(data)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None
    if local(root.tag) != "Tagging":
        raise ValueError("the root is not Tagging")
    sets = children(root, "TagSet")
    if len(sets) != 1:
        raise ValueError("Tagging holds no single TagSet")
    pairs: TagPairs = []
    for tag in children(sets[0], "Tag"):
        key, value = child_text(tag, "Key"), child_text(tag, "Value")
        if key is None or value is None:
            raise ValueError("a Tag without Key or Value")
        pairs.append((key, value))
    return pairs


def tagging_document(tags: Iterable[tuple[str, str]], *, ns: bool = True) -> bytes:
    """The ``<Tagging>`` document of ``tags``, with S3's namespace unless ``ns`` is False."""
    nsmap: dict[str | None, str] | None = {None: S3_NS} if ns else None
    root = etree.Element("Tagging", nsmap=nsmap)  # type: ignore[arg-type]
    tag_set = etree.SubElement(root, "TagSet")
    for key, value in tags:
        tag = etree.SubElement(tag_set, "Tag")
        etree.SubElement(tag, "Key").text = key
        etree.SubElement(tag, "Value").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def parse_tagging_header(value: str) -> TagPairs:
    """``k1=v1&k2&k3=`` → pairs (a name without ``=`` holds the empty value); ValueError for a pair with
    more than one ``=``, an empty name or bad percent-encoding."""
    pairs: TagPairs = []
    if not value.strip():
        return pairs
    for item in value.split("&"):
        if item == "":
            continue
        name, eq, rest = item.partition("=")
        if "=" in rest or not name:
            raise ValueError(f"malformed tag pair {item!r}")
        try:
            pairs.append((_unquote(name), _unquote(rest) if eq else ""))
        except UnicodeDecodeError:
            raise ValueError(f"bad percent-encoding in {item!r}") from None
    return pairs


def _unquote(text: str) -> str:
    return unquote_plus(text, errors="strict")


def tagging_header(tags: Iterable[tuple[str, str]]) -> str:
    """The ``x-amz-tagging`` header value of ``tags``, every reserved character percent-encoded."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags)
