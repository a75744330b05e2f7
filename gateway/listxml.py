"""The repeated elements of a listing answer (``Contents``, ``CommonPrefixes``) written as text.

A 1,000-key page is some 7,000 elements: built one lxml element at a time they cost more CPU than the
backend's whole page. Their shape is fixed, so they are written straight as escaped text and spliced
into the document lxml serialises around them. The escaping is lxml's, as ``xmlio`` gets it: ``&``,
``<`` and ``>`` as entities, a carriage return as ``&#13;`` (a parser would read a raw one as a line
feed), and the characters XML 1.0 cannot carry as character references, as S3 writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from backends.base import ObjectInfo
from gateway.xmlio import Doc, timestamp

_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _escape_one(match: re.Match[str]) -> str:
    ch = match.group()
    entity = _ENTITIES.get(ch)
    if entity is not None:
        return entity
    return "&#13;" if ch == "\r" else f"&#x{ord(ch):x};"


def text(value: str) -> str:
    """``value`` as XML element text."""
    return _ESCAPE.sub(_escape_one, value) if _ESCAPE.search(value) else value


def contents(objects: Iterable[ObjectInfo], enc: Callable[[str], str], owner: str) -> str:
    """``<Contents>`` of each object; ``owner`` the ``<Owner>`` element to repeat, or ""."""
    out = []
    for obj in objects:
        algorithms = "".join(
            f"<ChecksumAlgorithm>{text(alg.upper())}</ChecksumAlgorithm>" for alg in obj.meta.checksums
        )
        out.append(
            f"<Contents><Key>{text(enc(obj.key))}</Key>"
            f"<LastModified>{timestamp(obj.last_modified)}</LastModified>"
            f'<ETag>"{text(obj.etag)}"</ETag>{algorithms}<Size>{obj.size}</Size>{owner}'
            f"<StorageClass>{text(obj.meta.storage_class or 'STANDARD')}</StorageClass></Contents>"
        )
    return "".join(out)


def common_prefixes(prefixes: Iterable[str], enc: Callable[[str], str]) -> str:
    return "".join(f"<CommonPrefixes><Prefix>{text(enc(p))}</Prefix></CommonPrefixes>" for p in prefixes)


def with_children(doc: Doc, fragment: str) -> bytes:
    """The document's bytes with ``fragment`` appended inside its root element."""
    data = doc.to_bytes()
    if not fragment:
        return data
    close = data.rindex(b"</")
    return data[:close] + fragment.encode("utf-8") + data[close:]
