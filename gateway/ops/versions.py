"""Versioning: Put/GetBucketVersioning, ListObjectVersions, and the version facts object handlers share
(the ``versionId`` query, the ``x-amz-version-id`` and ``x-amz-delete-marker`` headers).

Version ids are the store's own, passed through unchanged; ``null`` is the version an object has in a
bucket never versioned, or gets while versioning is suspended, as S3 defines it.
"""

from __future__ import annotations

from starlette.responses import Response

from backends import errors as be
from backends.base import DeleteResult, ObjectInfo
from backends.wire.xml import child_text, local
from gateway import listxml
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.ops.listing import MAX_KEYS, key_encoder, key_text, owner_text, page_facts
from gateway.xmlio import Doc, add

STATUSES = ("Enabled", "Suspended")


def version_param(query: dict[str, str], name: str = "versionId") -> str | None:
    """The version a request names; an empty one is S3's InvalidArgument."""
    value = query.get(name)
    if value is not None and value == "":
        raise S3Error("InvalidArgument", "Version id cannot be the empty string", ArgumentName=name)
    return value


def version_headers(info: ObjectInfo) -> dict[str, str]:
    """``x-amz-version-id`` for an object of a bucket with versioning configured (S3 omits it in a
    bucket never versioned, where a backend reports no version)."""
    return {} if info.version_id is None else {"x-amz-version-id": info.version_id}


def delete_headers(result: DeleteResult | None) -> dict[str, str]:
    """DeleteObject's answer headers: the marker made, or the version removed, as S3 reports them."""
    headers: dict[str, str] = {}
    if result is not None and result.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if result is not None and result.version_id is not None:
        headers["x-amz-version-id"] = result.version_id
    return headers


# -- bucket versioning ----------------------------------------------------------------------------
async def get_bucket_versioning(ctx: Ctx) -> Response:
    status = await ctx.backend.get_bucket_versioning(ctx.need_bucket)
    doc = Doc("VersioningConfiguration")
    if status is not None:
        add(doc.root, "Status", status)
    return xml_response(doc)


def parse_versioning(body: bytes) -> str:
    """The Status of a VersioningConfiguration document (pure); MFA delete is refused, not ignored."""
    from gateway.xmlio import parse

    root = parse(body)
    if local(root.tag) != "VersioningConfiguration":
        raise S3Error("MalformedXML")
    status = child_text(root, "Status")
    mfa = child_text(root, "MfaDelete")
    if mfa is not None and mfa not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    if mfa == "Enabled":
        raise S3Error("NotImplemented", "MFA delete is not implemented.")
    if status is None:
        raise S3Error("IllegalVersioningConfigurationException")
    if status not in STATUSES:
        raise S3Error("MalformedXML")
    return status


async def put_bucket_versioning(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    if "x-amz-mfa" in ctx.headers:
        raise S3Error("NotImplemented", "MFA delete is not implemented.", Header="x-amz-mfa")
    status = parse_versioning(await ctx.body.read_small(64 * 1024))
    if status == "Suspended" and await ctx.settings.get_if_supported(bucket, "object-lock") is not None:
        raise S3Error(
            "InvalidBucketState",
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
        )
    await ctx.backend.put_bucket_versioning(bucket, status)
    return empty(200)


# -- ListObjectVersions ---------------------------------------------------------------------------
async def list_object_versions(ctx: Ctx) -> Response:
    enc = key_encoder(ctx)
    key_marker = ctx.query.get("key-marker", "")
    version_marker = ctx.query.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise S3Error(
            "InvalidArgument",
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=version_marker,
        )
    max_keys = ctx.int_param("max-keys", MAX_KEYS, high=MAX_KEYS)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter", "")
    try:
        page = await ctx.backend.list_object_versions(
            ctx.need_bucket, prefix, delimiter, key_marker, version_marker, max_keys
        )
    except be.InvalidArgument:
        raise S3Error(
            "InvalidArgument",
            "Invalid version id specified",
            ArgumentName="version-id-marker",
            ArgumentValue=version_marker,
        ) from None
    doc = Doc("ListVersionsResult")
    add(doc.root, "Name", ctx.need_bucket)
    add(doc.root, "Prefix", enc(prefix))
    add(doc.root, "KeyMarker", enc(key_marker))
    add(doc.root, "VersionIdMarker", version_marker)
    if page.is_truncated and page.next_key_marker is not None:
        add(doc.root, "NextKeyMarker", enc(page.next_key_marker))
        add(doc.root, "NextVersionIdMarker", page.next_version_id_marker or "")
    page_facts(ctx, doc, page.is_truncated, max_keys, delimiter, enc)
    as_text = key_text(ctx)
    fragment = listxml.versions(page.versions, as_text, owner_text(await ctx.bucket_owner()))
    fragment += listxml.common_prefixes(page.common_prefixes, as_text)
    return Response(listxml.with_children(doc, fragment), media_type="application/xml")
