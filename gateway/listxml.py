"""The repeated elements of a listing answer (``Contents``, ``CommonPrefixes``) written as text.

A 1,000-key page is some 7,000 elements: built one lxml element at a time they cost more CPU than the
backend's whole page. Their shape is fixed, so they are written straight as escaped text and spliced
into the document lxml serialises around them. The escaping is lxml's, as ``xmlio`` gets it: ``&``,
``<`` and ``>`` as entities, a carriage return as ``&#13;`` (a parser would read a raw one as a line
feed), and the characters XML 1.0 cannot carry as character references, as S3 writes them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence

from backends.base import Listed, VersionEntry, epoch_ns
from gateway.xmlio import Doc

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


class Dates:
    """S3 timestamps (``xmlio.timestamp``) of nanosecond times, the text of each second made once: a
    page's keys share few seconds, and a date per key was a tenth of the page's CPU."""

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def __call__(self, mtime_ns: int) -> str:
        second, rest = divmod(mtime_ns, 1_000_000_000)
        head = self._seconds.get(second)
        if head is None:
            head = self._seconds[second] = _second(second)
        return head + _MILLIS[rest // 1_000_000]


def _second(second: int) -> str:
    """The date text of a second since the epoch, up to its fraction."""
    return (_EPOCH + dt.timedelta(seconds=second)).isoformat()


_EPOCH = dt.datetime(1970, 1, 1)
_MILLIS = [f".{ms:03d}Z" for ms in range(1000)]


def contents(objects: Sequence[Listed], key_text: Callable[[str], str], owner: str) -> str:
    """``<Contents>`` of each object; ``key_text`` a key as element text (encoded as the request asked,
    escaped), ``owner`` the ``<Owner>`` element to repeat, or "".

    Column by column: each check is made once on the whole page where it can be (``key_text`` works
    character by character, an escaping or a percent-encoding, so keys whose concatenation it leaves as
    it is each need no call; hex ETags likewise), dates come from a cache across pages, and each
    ``Contents`` is then one f-string.
    """
    if not objects:
        return ""
    keys, sizes, etags, times, algorithms, classes = zip(*objects, strict=True)
    joined = "".join(keys)
    if key_text(joined) != joined:
        keys = tuple(map(key_text, keys))
    joined = "".join(etags)
    if not (joined.isascii() and joined.isalnum()):  # an MD5's hex needs no escaping
        etags = tuple(e if e.isascii() and e.isalnum() else text(e) for e in etags)
    dates = _DATES.get
    shown_dates = [dates(t) or _date(t) for t in times]
    tail = {
        c: f"{owner}<StorageClass>{text(c or 'STANDARD')}</StorageClass></Contents>" for c in set(classes)
    }
    tails = [tail[c] for c in classes]
    if any(algorithms):
        checks = [
            "".join(f"<ChecksumAlgorithm>{text(a.upper())}</ChecksumAlgorithm>" for a in algs)
            for algs in algorithms
        ]
    else:
        checks = [""] * len(keys)
    return "".join(
        [
            f"<Contents><Key>{key}</Key><LastModified>{date}</LastModified>"
            f'<ETag>"{etag}"</ETag>{check}<Size>{size}</Size>{tail}'
            for key, date, etag, check, size, tail in zip(
                keys, shown_dates, etags, checks, sizes, tails, strict=True
            )
        ]
    )


#: The date text of each time a listing showed (nanoseconds): pages list the same objects again and
#: again. Emptied when full.
_DATES: dict[int, str] = {}
DATES_LIMIT = 20_000


def _date(mtime_ns: int) -> str:
    """The date of ``mtime_ns``, remembered in ``_DATES``."""
    if len(_DATES) >= DATES_LIMIT:
        _DATES.clear()
    second, rest = divmod(mtime_ns, 1_000_000_000)
    date = _DATES[mtime_ns] = _second(second) + _MILLIS[rest // 1_000_000]
    return date


def versions(entries: Iterable[VersionEntry], key_text: Callable[[str], str], owner: str) -> str:
    """``<Version>`` / ``<DeleteMarker>`` of each entry of a version listing, each with ``owner``."""
    dates = Dates()
    out = []
    for entry in entries:
        info = entry.info
        head = (
            f"<Key>{key_text(info.key)}</Key><VersionId>{text(info.version_id or 'null')}</VersionId>"
            f"<IsLatest>{'true' if entry.is_latest else 'false'}</IsLatest>"
            f"<LastModified>{dates(epoch_ns(info.last_modified))}</LastModified>"
        )
        if info.delete_marker:
            out.append(f"<DeleteMarker>{head}{owner}</DeleteMarker>")
        else:
            out.append(
                f'<Version>{head}<ETag>"{text(info.etag)}"</ETag><Size>{info.size}</Size>{owner}'
                f"<StorageClass>{text(info.meta.storage_class or 'STANDARD')}</StorageClass></Version>"
            )
    return "".join(out)


def common_prefixes(prefixes: Iterable[str], key_text: Callable[[str], str]) -> str:
    return "".join(f"<CommonPrefixes><Prefix>{key_text(p)}</Prefix></CommonPrefixes>" for p in prefixes)


def with_children(doc: Doc, fragment: str) -> bytes:
    """The document's bytes with ``fragment`` appended inside its root element."""
    data = doc.to_bytes()
    if not fragment:
        return data
    close = data.rindex(b"</")
    return data[:close] + fragment.encode("utf-8") + data[close:]
