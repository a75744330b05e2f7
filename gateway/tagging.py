"""S3's rules for tag sets, checked by the gateway before any backend sees a tag (pure code).

The same limits hold on every backend, whatever the provider would accept: up to 10 tags on an object
and 50 on a bucket, unique keys, a key of 1-128 and a value of 0-256 characters (counted as S3 counts
them, in UTF-16 code units), only Unicode letters, digits, white space and ``_ . : / = + - @``, and no
key in the reserved ``aws:`` prefix. Errors are S3's: 400 BadRequest for too many object tags, InvalidTag
for a bad key or value, InvalidArgument for an unreadable ``x-amz-tagging`` header, MalformedXML for a
document that is not a tag set.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from backends.wire.tagging import TagPairs, parse_tagging, parse_tagging_header
from gateway.errors import S3Error

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
RESERVED_PREFIX = "aws:"
_SYMBOLS = frozenset("_.:/=+-@")

HEADER_ERROR = (
    "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without "
    "tag name duplicates."
)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _allowed(text: str) -> bool:
    return all(c in _SYMBOLS or unicodedata.category(c)[0] in "LNZ" for c in text)


def check_tags(pairs: TagPairs, *, bucket: bool = False) -> dict[str, str]:
    """The tag set as a dict, or the S3 error for the first rule it breaks."""
    limit = MAX_BUCKET_TAGS if bucket else MAX_OBJECT_TAGS
    if len(pairs) > limit:
        if bucket:
            raise S3Error("InvalidTag", f"Bucket tag count cannot be greater than {limit}")
        raise S3Error("BadRequest", f"Object tags cannot be greater than {limit}")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not key or _utf16_length(key) > MAX_KEY_CHARS or not _allowed(key):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid", TagKey=key)
        if _utf16_length(value) > MAX_VALUE_CHARS or not _allowed(value):
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid", TagKey=key)
        if key.lower().startswith(RESERVED_PREFIX):
            message = "System tags cannot be added/updated by requester" if bucket else None
            raise S3Error("InvalidTag", message or "Your TagKey cannot be prefixed with aws:", TagKey=key)
        if key in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", TagKey=key)
        tags[key] = value
    return tags


def tags_from_document(data: bytes, *, bucket: bool = False) -> dict[str, str]:
    """The tag set of a PutObjectTagging / PutBucketTagging body."""
    try:
        pairs = parse_tagging(data)
    except ValueError:
        raise S3Error("MalformedXML") from None
    return check_tags(pairs, bucket=bucket)


def tags_from_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The tag set of an ``x-amz-tagging`` header; None when the request carries none."""
    value = headers.get("x-amz-tagging")
    if value is None:
        return None
    try:
        pairs = parse_tagging_header(value)
    except ValueError:
        raise S3Error("InvalidArgument", HEADER_ERROR, ArgumentName="x-amz-tagging") from None
    if len({k for k, _ in pairs}) != len(pairs):
        raise S3Error("InvalidArgument", HEADER_ERROR, ArgumentName="x-amz-tagging")
    return check_tags(pairs)


def tagging_directive(headers: Mapping[str, str]) -> str:
    """CopyObject's ``x-amz-tagging-directive``: COPY (the default) or REPLACE."""
    directive = headers.get("x-amz-tagging-directive", "COPY").strip().upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown tagging directive.", ArgumentName="x-amz-tagging-directive")
    return directive


def sorted_tags(tags: Mapping[str, str]) -> list[tuple[str, str]]:
    """Tags in key order, as S3 answers them."""
    return sorted(tags.items())
