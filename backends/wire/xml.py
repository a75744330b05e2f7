"""XML as both sides read it: the hardened parser and the element helpers for S3's documents.

Clients and stores send S3's namespace, or none; the helpers match an element by its local name, so
either parses alike. The parser never resolves entities, never loads a DTD and never touches the network.
"""

from __future__ import annotations

from lxml import etree

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

SAFE_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_safe(data: bytes) -> etree._Element:
    """Parse with ``SAFE_PARSER``; malformed input raises lxml's XMLSyntaxError."""
    return etree.fromstring(data, SAFE_PARSER)


def local(tag: object) -> str:
    """An element's name without its namespace (comments and the like have none: '')."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def children(el: etree._Element, name: str) -> list[etree._Element]:
    """The direct children called ``name``, in order."""
    return [c for c in el if local(c.tag) == name]


def child_text(el: etree._Element, name: str) -> str | None:
    """The text of the first direct child called ``name`` ('' when empty), or None when there is none."""
    for c in el:
        if local(c.tag) == name:
            return c.text or ""
    return None
