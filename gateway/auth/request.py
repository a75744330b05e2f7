"""What the signers read from a request: the view of it, its query pairs, its timestamps.

Signatures are computed over the request as it was on the wire, so the view keeps the raw path and raw
query string; decoding happens here, once, in the way AWS canonicalises them.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from gateway.errors import S3Error


@dataclass(frozen=True)
class RequestView:
    """The parts of an HTTP request a signature covers, exactly as received."""

    method: str
    raw_path: str  # path as on the wire, percent-encoding intact, no query
    query_string: str  # raw query string as received
    headers: Mapping[str, str]  # lowercase names; repeated headers joined with ","
    host: str  # the Host the client signed
    #: set by the app when virtual-host addressing took the bucket from the Host: SigV2 signs
    #: ``/bucket`` + path even then (SigV4 signs the path as sent).
    virtual_host_bucket: str | None = None


#: Bytes AWS's UriEncode leaves as they are: most names and values of a query are made of these only.
_UNRESERVED = re.compile(rb"[A-Za-z0-9_.~-]*")


def uri_encode(data: bytes | str, *, keep_slash: bool = False) -> str:
    """AWS's UriEncode: unreserved characters kept, every other byte as uppercase %XX."""
    if isinstance(data, bytes) and not keep_slash:
        return encode_unreserved(data)
    return quote(data, safe="-_.~/" if keep_slash else "-_.~")


def encode_unreserved(data: bytes) -> str:
    """``uri_encode`` of bytes, without urllib's layers for the common case of nothing to escape."""
    if _UNRESERVED.fullmatch(data):
        return data.decode("ascii")
    return quote_from_bytes(data, safe="-_.~")


class QueryPair(NamedTuple):
    """One ``name=value`` of the query: decoded bytes and whether an ``=`` was present (a tuple: a
    presigned URL has eight of them, built on every request)."""

    name: bytes
    value: bytes
    has_equals: bool

    @property
    def name_str(self) -> str:
        return self.name.decode("utf-8", "replace")

    @property
    def value_str(self) -> str:
        return self.value.decode("utf-8", "replace")


_LOWERCASE_ESCAPE = re.compile(r"%(?=[0-9A-Fa-f]{2})(?:[a-f].|.[a-f])")


def has_lowercase_escape(raw: str) -> bool:
    """``%2f`` where a signer writes ``%2F``: signatures are compared over the bytes as sent, so a
    request whose escapes were re-spelled after signing does not match, as AWS answers it."""
    return _LOWERCASE_ESCAPE.search(raw) is not None


def parse_query(query_string: str) -> list[QueryPair]:
    """Split on ``&`` and percent-decode; ``+`` stays a literal plus, as AWS's signers treat it."""
    pairs: list[QueryPair] = []
    for piece in query_string.split("&"):
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        pairs.append(QueryPair(_unquote(name), _unquote(value), bool(eq)))
    return pairs


class QueryFacts(NamedTuple):
    """A query string parsed once: its pairs in order, and each name's first value (read-only)."""

    pairs: tuple[QueryPair, ...]
    first: Mapping[bytes, str]


#: Query strings remembered parsed. A presigned URL is fetched again and again with the very same
#: query; the parse is a pure function of the string, so the cache cannot change an answer. Bounded in
#: entries, and each entry is a few times a URL's length (uvicorn caps a request line at 64 KiB), so a
#: stream of distinct URLs costs at most a few MiB.
QUERY_CACHE_ENTRIES = 512


@functools.lru_cache(maxsize=QUERY_CACHE_ENTRIES)
def query_facts(query_string: str) -> QueryFacts:
    """``parse_query`` and ``first_values`` of ``query_string``, immutable, cached per string."""
    pairs = tuple(parse_query(query_string))
    return QueryFacts(pairs, MappingProxyType(first_values(pairs)))


def _unquote(text: str) -> bytes:
    return unquote_to_bytes(text) if "%" in text else text.encode("utf-8")


def first_values(pairs: Sequence[QueryPair]) -> dict[bytes, str]:
    """Each name's first value: what ``query_first`` answers, for a caller asking for several names."""
    found: dict[bytes, str] = {}
    for pair in pairs:
        if pair.name not in found:
            found[pair.name] = pair.value_str
    return found


def query_first(pairs: Sequence[QueryPair], name: str) -> str | None:
    wanted = name.encode()
    for pair in pairs:
        if pair.name == wanted:
            return pair.value_str
    return None


AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@functools.lru_cache(maxsize=512)
def parse_amz_date(value: str) -> datetime.datetime | None:
    """``20130524T000000Z`` → aware UTC datetime; None when malformed. Cached (datetimes are immutable):
    ``strptime`` costs ~30 µs, and a presigned URL's date, or this second's, comes again and again."""
    try:
        return datetime.datetime.strptime(value.strip(), AMZ_DATE_FORMAT).replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        return None


def parse_http_date(value: str) -> datetime.datetime | None:
    """An RFC 1123 date (``Fri, 24 May 2013 00:00:00 GMT``) → aware UTC datetime; None when malformed."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def parse_any_date(value: str) -> datetime.datetime | None:
    return parse_amz_date(value) or parse_http_date(value)


def check_skew(when: datetime.datetime, now: datetime.datetime, max_skew: datetime.timedelta) -> None:
    if abs(now - when) > max_skew:
        raise S3Error(
            "RequestTimeTooSkewed",
            RequestTime=when.strftime(AMZ_DATE_FORMAT),
            ServerTime=now.strftime(AMZ_DATE_FORMAT),
            MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)),
        )


def missing_date() -> S3Error:
    return S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")


def signed_bytes(text: str) -> list[bytes]:
    """The byte spellings a client may have signed ``text`` as (a canonical request or string to sign).

    Header values reach us as the raw bytes sent, decoded as ISO-8859-1. A client that sends a non-ASCII
    value as UTF-8 bytes (Go, JS, curl) signed those bytes: re-encoding the decoded text as ISO-8859-1
    gives them back. A Python client (http.client) sends ISO-8859-1 bytes but signed the UTF-8 encoding
    of its string: encoding the decoded text as UTF-8 gives that. Both are tried; for ASCII they agree.
    """
    spellings = [text.encode("utf-8")]
    if not text.isascii():
        try:
            spellings.append(text.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    return spellings
