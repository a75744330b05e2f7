"""S3 XML documents: request bodies parsed into S3 errors, and small builders for answers.

The parser (``backends.wire.xml``, shared with the backends that read S3 documents, as are the element
helpers handlers use) never resolves entities, never loads a DTD and never touches the network, so an
XML bomb or an external-entity request body is just malformed input. Request documents are small (a delete of 1000
keys, a complete of 10000 parts); ``MAX_XML_BYTES`` caps what is read.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable

from lxml import etree

from backends.wire.xml import S3_NS, parse_safe
from gateway.errors import S3Error

#: Characters XML 1.0 cannot carry. S3 keys may hold any of them; S3 answers them as character
#: references (parseable only by lenient parsers, which is why clients list with encoding-type=url).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: lxml refuses such characters in text, so they go in as this per-process mark (a private-use
#: character and 64 random bits no key will hold) and become ``&#x..;`` in the serialised bytes.
_REF_MARK = "\ue000" + secrets.token_hex(8) + ":"
_REF_MARK_BYTES = _REF_MARK.encode()
MAX_XML_BYTES = 2 * 1024 * 1024


def parse(data: bytes) -> etree._Element:
    """Parse a request document; anything odd (DTDs included) is MalformedXML."""
    if not data.strip():
        raise S3Error("MalformedXML")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise S3Error("MalformedXML")
    try:
        return parse_safe(data)
    except etree.XMLSyntaxError as exc:
        raise S3Error("MalformedXML") from exc


def timestamp(value: dt.datetime) -> str:
    """ISO 8601 with milliseconds and Z, the form S3 uses in XML (``isoformat`` is C code, several
    times faster than ``strftime``: a listing writes one per key)."""
    text = value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


class Doc:
    """A tiny builder: ``Doc("ListBucketResult").add("Name", "b").sub("Contents")...``."""

    def __init__(self, root: str, *, ns: bool = True):
        nsmap: dict[str | None, str] | None = {None: S3_NS} if ns else None
        self.root = etree.Element(root, nsmap=nsmap)  # type: ignore[arg-type]

    def to_bytes(self) -> bytes:
        return serialize(self.root)


def xml_text(value: str) -> str:
    """``value`` as element text lxml accepts; see ``_REF_MARK``."""
    if _NOT_XML.search(value) is None:
        return value
    return _NOT_XML.sub(lambda m: f"{_REF_MARK}{ord(m.group()):x};", value)


def serialize(root: etree._Element) -> bytes:
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if _REF_MARK_BYTES in data:
        data = data.replace(_REF_MARK_BYTES, b"&#x")
    return data


def add(parent: etree._Element, name: str, value: object = None) -> etree._Element:
    """Append ``<name>value</name>``; booleans as S3 writes them, datetimes as S3 timestamps."""
    el = etree.SubElement(parent, name)
    if value is None:
        return el
    if isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, dt.datetime):
        el.text = timestamp(value)
    else:
        el.text = xml_text(str(value))
    return el


def add_all(parent: etree._Element, pairs: Iterable[tuple[str, object]]) -> etree._Element:
    """Append each (name, value) whose value is not None."""
    for name, value in pairs:
        if value is not None:
            add(parent, name, value)
    return parent


def error_document(code: str, message: str, resource: str, request_id: str, extra: dict[str, str]) -> bytes:
    root = etree.Element("Error")
    add(root, "Code", code)
    add(root, "Message", message)
    for name, value in extra.items():
        add(root, name, value)
    add(root, "Resource", resource)
    add(root, "RequestId", request_id)
    add(root, "HostId", request_id)
    return serialize(root)
