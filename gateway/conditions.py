"""Conditional requests (If-Match and friends) and the Range header, as S3 evaluates them (pure code).

Precedence follows RFC 9110, which is also what S3 documents: If-Match decides and If-Unmodified-Since is
then ignored; If-None-Match decides and If-Modified-Since is then ignored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime

from backends import errors as be
from backends.base import ByteRange, WriteCondition
from backends.wire.etag import strip_etag
from gateway.errors import S3Error

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def etag_matches(header: str, etag: str) -> bool:
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == "*" or strip_etag(candidate) == etag:
            return True
    return False


def write_condition(headers: Mapping[str, str]) -> WriteCondition:
    """A write's ``If-None-Match: *`` / ``If-Match`` (PutObject, CopyObject's destination, Complete), for
    the backend to decide with the write. If-None-Match takes only ``*`` on a write, as on S3."""
    none_match = headers.get("if-none-match")
    if none_match is not None and none_match.strip() != "*":
        raise S3Error("NotImplemented", "If-None-Match on a write supports only the value '*'.")
    if_match = headers.get("if-match")
    return WriteCondition(
        if_none_match_star=none_match is not None,
        if_match=None if if_match is None else strip_etag(if_match.strip().removeprefix("W/")),
    )


@contextlib.contextmanager
def deciding(cond: WriteCondition) -> Iterator[None]:
    """Around a conditional write: the backend's PreconditionFailed names the condition that failed."""
    try:
        yield
    except be.PreconditionFailed:
        raise S3Error(
            "PreconditionFailed", Condition="If-None-Match" if cond.if_none_match_star else "If-Match"
        ) from None


def check(
    headers: Mapping[str, str],
    etag: str,
    last_modified: dt.datetime,
    *,
    prefix: str = "if-",
    read: bool = True,
) -> None:
    """Raise PreconditionFailed or NotModified when the object fails the request's conditions.

    ``prefix`` is ``x-amz-copy-source-if-`` for a copy's source, where every failure is a 412.
    ``read`` says whether a failed If-None-Match / If-Modified-Since means 304 (GET, HEAD).
    """
    modified = last_modified.replace(microsecond=0)
    if_match = headers.get(prefix + "match")
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise S3Error("PreconditionFailed", Condition=_cond(prefix, "If-Match"))
    else:
        since = _http_date(headers.get(prefix + "unmodified-since"))
        if since is not None and modified > since:
            raise S3Error("PreconditionFailed", Condition=_cond(prefix, "If-Unmodified-Since"))
    none_match = headers.get(prefix + "none-match")
    not_modified = "NotModified" if read and prefix == "if-" else "PreconditionFailed"
    if none_match is not None:
        if etag_matches(none_match, etag):
            raise S3Error(not_modified, Condition=_cond(prefix, "If-None-Match"))
    else:
        since = _http_date(headers.get(prefix + "modified-since"))
        if since is not None and modified <= since:
            raise S3Error(not_modified, Condition=_cond(prefix, "If-Modified-Since"))


def _cond(prefix: str, name: str) -> str:
    return name if prefix == "if-" else "x-amz-copy-source-" + name


def parse_range(value: str | None) -> ByteRange | None:
    """A single byte range, or None for an absent or unusable header (S3 then serves the whole object)."""
    if not value:
        return None
    m = _RANGE.match(value)
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:
        return ByteRange(None, int(last))
    start = int(first)
    end = int(last) if last else None
    if end is not None and end < start:
        return None
    return ByteRange(start, end)


def parse_copy_range(value: str | None) -> tuple[int, int] | None:
    """``x-amz-copy-source-range: bytes=first-last`` (both required, as S3 demands)."""
    if value is None:
        return None
    m = _RANGE.match(value)
    if not m or not m.group(1) or not m.group(2) or int(m.group(2)) < int(m.group(1)):
        raise S3Error(
            "InvalidArgument",
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last "
            "are the zero-based offsets of the first and last bytes to copy",
        )
    return int(m.group(1)), int(m.group(2))
