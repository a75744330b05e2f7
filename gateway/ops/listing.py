"""ListObjects (v1) and ListObjectsV2: one backend page per request, in S3's XML.

The backend pages with an exclusive ``start_after``; v1's marker is that directly, v2's continuation
token is the same position made opaque. With ``encoding-type=url`` every key and prefix in the answer is
URL-encoded, as clients that ask for it decode them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import quote_plus

from lxml import etree
from starlette.responses import Response

from backends.base import ListedPage
from gateway import listxml
from gateway.context import Ctx
from gateway.errors import S3Error
from gateway.identity import Identity
from gateway.ops.buckets import owner
from gateway.xmlio import Doc, add, add_all

MAX_KEYS = 1000
#: What ``quote_plus(s, safe="/")`` leaves as it is: most keys, which then skip it.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(("1:" + marker).encode()).decode()


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("1:"):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect")
    return raw[2:]


def key_encoder(ctx: Ctx) -> Callable[[str], str]:
    encoding = ctx.query.get("encoding-type")
    if encoding is None:
        return lambda s: s
    if encoding.lower() != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request")
    return lambda s: s if _URL_SAFE.fullmatch(s) else quote_plus(s, safe="/")


def key_text(ctx: Ctx) -> Callable[[str], str]:
    """A key or prefix as element text of the answer: URL-encoded when the request asked (which leaves
    nothing to escape), else escaped."""
    enc = key_encoder(ctx)
    return enc if "encoding-type" in ctx.query else listxml.text


async def _page(ctx: Ctx, start_after: str) -> tuple[ListedPage, int, str, str]:
    """The backend's page in the light form (``Backend.list_objects_listed``)."""
    max_keys = ctx.int_param("max-keys", MAX_KEYS, high=MAX_KEYS)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter", "")
    page = await ctx.backend.list_objects_listed(ctx.need_bucket, prefix, delimiter, start_after, max_keys)
    return page, max_keys, prefix, delimiter


def owner_text(owned_by: Identity | None) -> str:
    """The ``<Owner>`` element each entry repeats, as text ("" for None)."""
    if owned_by is None:
        return ""
    holder = etree.Element("Holder")
    owner(holder, owned_by)
    return etree.tostring(holder[0], encoding="unicode")


def _answer(doc: Doc, page: ListedPage, ctx: Ctx, owned_by: Identity | None) -> Response:
    """The document with the listed objects and common prefixes (written as text, see listxml);
    ``owned_by`` the owner to show (the bucket's: objects carry no owner in a listing), None when the
    request did not ask for it."""
    as_text = key_text(ctx)
    fragment = listxml.contents(page.objects, as_text, owner_text(owned_by))
    fragment += listxml.common_prefixes(page.common_prefixes, as_text)
    return Response(listxml.with_children(doc, fragment), media_type="application/xml")


def page_facts(
    ctx: Ctx, doc: Doc, is_truncated: bool, max_keys: int, delimiter: str, enc: Callable[[str], str]
) -> None:
    """The elements v1 listings and version listings share after their markers."""
    add(doc.root, "MaxKeys", max_keys)
    if delimiter:
        add(doc.root, "Delimiter", enc(delimiter))
    add(doc.root, "IsTruncated", is_truncated)
    if "encoding-type" in ctx.query:
        add(doc.root, "EncodingType", "url")


async def list_objects(ctx: Ctx) -> Response:
    """ListObjects (v1); ``list-type=2`` has its own line in the operation table, any other list-type is
    refused as S3 refuses it."""
    if "list-type" in ctx.query:
        raise S3Error("InvalidArgument", "Invalid List Type specified in Request")
    enc = key_encoder(ctx)
    marker = ctx.query.get("marker", "")
    page, max_keys, prefix, delimiter = await _page(ctx, marker)
    doc = Doc("ListBucketResult")
    add(doc.root, "Name", ctx.need_bucket)
    add(doc.root, "Prefix", enc(prefix))
    add(doc.root, "Marker", enc(marker))
    if page.is_truncated and delimiter and page.next_marker is not None:
        add(doc.root, "NextMarker", enc(page.next_marker))
    page_facts(ctx, doc, page.is_truncated, max_keys, delimiter, enc)
    return _answer(doc, page, ctx, await ctx.bucket_owner())


async def list_objects_v2(ctx: Ctx) -> Response:
    enc = key_encoder(ctx)
    token = ctx.query.get("continuation-token")
    start_after = ctx.query.get("start-after", "")
    if token is not None:
        position = decode_token(token)
    else:
        position = start_after
    page, max_keys, prefix, delimiter = await _page(ctx, position)
    doc = Doc("ListBucketResult")
    add(doc.root, "Name", ctx.need_bucket)
    add(doc.root, "Prefix", enc(prefix))
    add(doc.root, "MaxKeys", max_keys)
    add(doc.root, "KeyCount", len(page.objects) + len(page.common_prefixes))
    if delimiter:
        add(doc.root, "Delimiter", enc(delimiter))
    add(doc.root, "IsTruncated", page.is_truncated)
    add_all(
        doc.root,
        [
            ("ContinuationToken", token),
            (
                "NextContinuationToken",
                encode_token(page.next_marker) if page.is_truncated and page.next_marker else None,
            ),
            ("StartAfter", enc(start_after) if "start-after" in ctx.query else None),
            ("EncodingType", "url" if "encoding-type" in ctx.query else None),
        ],
    )
    fetch_owner = ctx.query.get("fetch-owner", "").lower() == "true"
    return _answer(doc, page, ctx, await ctx.bucket_owner() if fetch_owner else None)
