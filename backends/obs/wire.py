"""Translations between the contract's types and what esdk-obs-python sends and returns.

Two SDK habits shape this module:
- it percent-encodes every request header value (metadata and content headers alike) and decodes only
  user metadata on the way back, so content headers are decoded here to round-trip;
- it strips the ``x-amz-meta-`` / ``x-obs-meta-`` prefix from response headers, which makes user
  metadata indistinguishable from other ``x-amz-*`` headers; the client keeps raw header names
  (see ``obs._RawHeadersClient``) and user metadata is picked by its real prefix here.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from backends.base import CONTENT_HEADERS as BASE_CONTENT_HEADERS
from backends.base import ObjectInfo, ObjectMeta
from backends.wire.etag import strip_etag
from backends.wire.tagging import tagging_header

#: contract field → HTTP header the SDK passes through untouched when given as an extension header.
#: (Content-Type has its own SDK parameter.)
CONTENT_HEADERS = {f: h for f, h in BASE_CONTENT_HEADERS.items() if f != "content_type"}

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def meta_prefix(signature: str) -> str:
    return "x-obs-meta-" if signature == "obs" else "x-amz-meta-"


def header_prefix(signature: str) -> str:
    return "x-obs-" if signature == "obs" else "x-amz-"


def extension_headers(meta: ObjectMeta, signature: str) -> dict[str, str]:
    """Content headers other than Content-Type, which the SDK's own header models do not carry, and the
    tags of the write."""
    out: dict[str, str] = tag_headers(meta, signature)
    for field, header in CONTENT_HEADERS.items():
        value = getattr(meta, field)
        if value is not None:
            out[header] = value
    return out


def tag_headers(meta: ObjectMeta, signature: str) -> dict[str, str]:
    """The tags of a write as ``x-obs-tagging`` (``x-amz-tagging`` in S3 mode), URL-encoded ``k=v&k=v``.

    The value goes out as given: ``obs._RawHeadersClient`` keeps the SDK from percent-encoding it again.
    """
    if not meta.tags:
        return {}
    return {header_prefix(signature) + "tagging": tagging_header(meta.tags.items())}


def user_metadata(meta: ObjectMeta) -> dict[str, str] | None:
    return dict(meta.user) or None


def content_type(meta: ObjectMeta) -> str:
    """S3 stores binary/octet-stream when none is given; the SDK would guess one from the key's suffix."""
    return meta.content_type or "binary/octet-stream"


def raw_headers(result: Any) -> dict[str, str]:
    """The response headers by lowercase name (the client keeps them unrenamed)."""
    return {str(k).lower(): v for k, v in (getattr(result, "header", None) or [])}


def meta_from_headers(headers: dict[str, str], signature: str) -> ObjectMeta:
    prefix = meta_prefix(signature)
    user = {unquote(k[len(prefix) :]).lower(): unquote(v) for k, v in headers.items() if k.startswith(prefix)}
    values: dict[str, Any] = {}
    for field, header in CONTENT_HEADERS.items():
        value = headers.get(header.lower())
        values[field] = unquote(value) if value is not None else None
    ctype = headers.get("content-type")
    return ObjectMeta(
        content_type=unquote(ctype) if ctype is not None else None,
        user=user,
        storage_class=headers.get(header_prefix(signature) + "storage-class"),
        tag_count=_tag_count(headers.get(header_prefix(signature) + "tagging-count")),
        **values,
    )


def _tag_count(value: str | None) -> int:
    value = (value or "0").strip()
    return int(value) if value.isdigit() else 0


def info_from_headers(key: str, headers: dict[str, str], signature: str) -> ObjectInfo:
    """An object's info from a HEAD or GET answer (for a ranged GET, size comes from Content-Range), with
    the version id the store names it by (none in a bucket never versioned)."""
    size = int(headers.get("content-length", "0") or 0)
    content_range = headers.get("content-range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            size = int(total)
    return ObjectInfo(
        key=key,
        size=size,
        etag=strip_etag(headers.get("etag")),
        last_modified=http_date(headers.get("last-modified")),
        meta=meta_from_headers(headers, signature),
        version_id=headers.get(header_prefix(signature) + "version-id"),
    )


def span_from_headers(headers: dict[str, str]) -> tuple[int, int] | None:
    """The inclusive span a 206 answer serves, from ``Content-Range: bytes a-b/n``."""
    value = headers.get("content-range", "")
    if not value.startswith("bytes ") or "-" not in value:
        return None
    first, _, rest = value[6:].partition("-")
    last = rest.split("/", 1)[0]
    if first.strip().isdigit() and last.strip().isdigit():
        return int(first), int(last)
    return None


def http_date(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.timezone.utc)
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(dt.timezone.utc)
    except (TypeError, ValueError):
        return dt.datetime.now(dt.timezone.utc)


def sdk_date(value: str | None) -> dt.datetime:
    """Dates from parsed XML: the SDK turns ``2024-01-01T00:00:00.000Z`` into local ``%Y/%m/%d %H:%M:%S``."""
    if not value:
        return EPOCH
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            parsed = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fmt.endswith("Z"):
            return parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.astimezone(dt.timezone.utc)  # naive = local time, as the SDK produced it
    return EPOCH


def range_header(first: int | None, last: int | None) -> str:
    if first is None:
        return f"bytes=-{last}"
    return f"bytes={first}-" if last is None else f"bytes={first}-{last}"


def skip_rolled_up(prefix: str, delimiter: str, start_after: str) -> str:
    """The marker to send so a common prefix a previous page ended on is not listed again.

    When ``start_after`` is itself a common prefix (its first delimiter after ``prefix`` ends it), every
    key under it rolls up into it: continue after the greatest string it prefixes instead.
    """
    if not (delimiter and start_after.startswith(prefix) and start_after.endswith(delimiter)):
        return start_after
    if start_after.find(delimiter, len(prefix)) != len(start_after) - len(delimiter):
        return start_after
    return start_after + "\U0010ffff"


def trim_page(
    objects: list[ObjectInfo], prefixes: list[str], max_keys: int
) -> tuple[list[ObjectInfo], list[str], bool]:
    """At most ``max_keys`` entries (keys and common prefixes together, in order); True when cut.

    Some S3-compatible stores count only keys against max-keys in v1 listings; a page never carries
    more than was asked for, whatever the store sent.
    """
    if len(objects) + len(prefixes) <= max_keys:
        return objects, prefixes, False
    merged = sorted(
        [(o.key.encode(), o) for o in objects] + [(p.encode(), p) for p in prefixes], key=lambda e: e[0]
    )
    kept = [entry for _, entry in merged[: max(max_keys, 0)]]
    return (
        [e for e in kept if isinstance(e, ObjectInfo)],
        [e for e in kept if isinstance(e, str)],
        True,
    )


def last_item(keys: Iterable[str]) -> str | None:
    """The greatest name in UTF-8 binary order (where a truncated listing continues)."""
    best: str | None = None
    for key in keys:
        if best is None or key.encode() > best.encode():
            best = key
    return best
