"""User metadata values on the S3 wire, both sides (pure code).

HTTP header values are bytes; S3 reads a non-ASCII ``x-amz-meta-*`` value as UTF-8 and answers it RFC 2047
encoded (``=?UTF-8?B?...?=``), as AWS documents for user-defined metadata. The gateway answers clients
that way, and the s3 backend sends stores that way.
"""

from __future__ import annotations

import base64
import email.charset
import email.header

_UTF8 = email.charset.Charset("utf-8")


def encode_meta_value(value: str) -> str:
    """User metadata as S3 carries it: ASCII as is, anything else RFC 2047 encoded (as AWS returns it)."""
    if value.isascii():
        return value
    return _UTF8.header_encode(value)


def answer_meta_value(value: str) -> str:
    """A stored value as S3 answers it on GET and HEAD: ASCII as is, anything else one RFC 2047 encoded
    word in S3's spelling, ``=?UTF-8?B?<base64 of the UTF-8 bytes>?=``."""
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def decode_meta_value(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return value


def header_text(value: str) -> str:
    """A request header value as the client meant it: the raw bytes (which arrive decoded as ISO-8859-1)
    read as UTF-8 when they are UTF-8, as S3 reads them; else the ISO-8859-1 text."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
