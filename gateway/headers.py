"""Object metadata as HTTP headers, both ways (pure code).

Requests carry the standard content headers and ``x-amz-meta-*``; answers give them back exactly, plus
ETag, Last-Modified and, when the client asks with ``x-amz-checksum-mode: ENABLED``, the stored
checksums. ``aws-chunked`` is transport framing, never part of a stored Content-Encoding.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from email.utils import format_datetime

from backends.base import CHECKSUM_ALGORITHMS, CONTENT_HEADERS, ObjectInfo, ObjectMeta
from backends.wire.metadata import answer_meta_value, header_text
from gateway.errors import S3Error
from gateway.sse import answer_headers
from gateway.tagging import tags_from_headers

META_PREFIX = "x-amz-meta-"
#: User-metadata names the gateway keeps for itself (gateway.objectacl): never answered, never set.
HIDDEN_META_PREFIX = "s3bridge-"
#: The names under that prefix this gateway keeps records in (gateway.objectacl): never answered, never
#: set by a client. Other ``s3bridge-`` names are a client's own (an s3bridge in front of this one keeps
#: its encryption records there), stored and answered as any user metadata.
HIDDEN_META_NAMES = frozenset({HIDDEN_META_PREFIX + "acl"})
#: S3 caps user metadata (names + values) at 2 KB.
MAX_USER_META_BYTES = 2048
STORAGE_CLASSES = {
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "OUTPOSTS",
    "SNOW",
    "EXPRESS_ONEZONE",
}

#: Request header → ObjectMeta field (Content-Encoding apart: ``aws-chunked`` is stripped from it).
_CONTENT_HEADERS = {h.lower(): f for f, h in CONTENT_HEADERS.items() if f != "content_encoding"}
#: GetObject's response-* query overrides → the header they replace.
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def strip_aws_chunked(value: str | None) -> str | None:
    if value is None:
        return None
    codings = [c.strip() for c in value.split(",") if c.strip() and c.strip().lower() != "aws-chunked"]
    return ", ".join(codings) or None


def meta_from_headers(headers: Mapping[str, str]) -> ObjectMeta:
    """The metadata a PUT, CreateMultipartUpload or CopyObject (REPLACE) sets, tags included."""
    meta = ObjectMeta()
    for header, attr in _CONTENT_HEADERS.items():
        if header in headers:
            setattr(meta, attr, headers[header])
    meta.content_encoding = strip_aws_chunked(headers.get("content-encoding"))
    size = 0
    for name, value in headers.items():
        lname = name.lower()
        if lname.startswith(META_PREFIX):
            short = lname[len(META_PREFIX) :]
            if short in HIDDEN_META_NAMES:
                raise S3Error(
                    "InvalidArgument",
                    f"User metadata name {short} is reserved by the gateway.",
                    ArgumentName=lname,
                )
            value = header_text(value)  # non-ASCII: stored as the UTF-8 text the client sent
            meta.user[short] = value
            size += len(short.encode()) + len(value.encode())
    if size > MAX_USER_META_BYTES:
        raise S3Error("MetadataTooLarge")
    storage = headers.get("x-amz-storage-class")
    if storage is not None:
        if storage not in STORAGE_CLASSES:
            raise S3Error("InvalidStorageClass")
        meta.storage_class = storage
    meta.tags = tags_from_headers(headers) or {}
    return meta


@functools.lru_cache(maxsize=1024)
def http_date(when: dt.datetime) -> str:
    """``Last-Modified``'s RFC 7231 spelling of an aware UTC time; cached (datetimes are immutable, and
    a small object served again and again has the same one: ``format_datetime`` is ~5 µs)."""
    return format_datetime(when, usegmt=True)


def object_headers(info: ObjectInfo, *, checksum_mode: bool = False) -> dict[str, str]:
    """The headers GET and HEAD answer with (Content-Length and ranges are the caller's)."""
    meta = info.meta
    headers = {
        "ETag": f'"{info.etag}"',
        "Last-Modified": http_date(info.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": meta.content_type or "binary/octet-stream",
    }
    for field, header in CONTENT_HEADERS.items():
        value = getattr(meta, field)
        if value and field != "content_type":
            headers[header] = value
    if meta.storage_class and meta.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = meta.storage_class
    for name, value in meta.user.items():
        if name not in HIDDEN_META_NAMES:  # the gateway's own records (gateway.objectacl)
            headers[META_PREFIX + name] = answer_meta_value(value)  # RFC 2047 when not ASCII, as S3
    if meta.tagging_count:
        headers["x-amz-tagging-count"] = str(meta.tagging_count)
    headers.update(answer_headers(meta.encryption))
    if checksum_mode:
        headers.update(checksum_headers(meta.checksums))
        if meta.checksum_type and meta.checksums:
            headers["x-amz-checksum-type"] = meta.checksum_type
    return headers


def checksum_headers(checksums: Mapping[str, str]) -> dict[str, str]:
    return {
        f"x-amz-checksum-{alg}": value
        for alg, value in checksums.items()
        if alg in CHECKSUM_ALGORITHMS and value
    }


def check_overrides(query: Mapping[str, str]) -> None:
    """Refuse ``response-*`` values no HTTP header can carry (control characters, or characters beyond
    ISO-8859-1), before any object is opened: sent on, they cut the connection or answered 500."""
    if RESPONSE_OVERRIDES.keys().isdisjoint(query):
        return  # the common case: no override asked for (one set operation, not a lookup per name)
    for param in RESPONSE_OVERRIDES:
        value = query.get(param)
        if value is not None and not _header_safe(value):
            raise S3Error(
                "InvalidArgument",
                "Header value cannot be represented using ISO-8859-1.",
                ArgumentName=param,
                ArgumentValue=value.encode("unicode_escape").decode("ascii"),
            )


def _header_safe(value: str) -> bool:
    return all(c == "\t" or (" " <= c <= "\xff" and c != "\x7f") for c in value)


def apply_overrides(headers: dict[str, str], query: Mapping[str, str]) -> None:
    if RESPONSE_OVERRIDES.keys().isdisjoint(query):
        return
    for param, header in RESPONSE_OVERRIDES.items():
        if param in query:
            headers[header] = query[param]
