"""ACL, ownership-controls and public-access-block operations: Get/PutBucketAcl, Get/PutObjectAcl,
Put/Get/DeleteBucketOwnershipControls, Put/Get/DeletePublicAccessBlock; and ``write_acl``, the ACL a
CreateBucket / PutObject / CopyObject / CreateMultipartUpload asks for, checked against the bucket's
ownership controls and public-access block.

Semantics are S3's: under BucketOwnerEnforced (the default) ACLs are disabled, every write of one other
than ``bucket-owner-full-control`` (or ``private``, the state such a bucket is in anyway) fails with
AccessControlListNotSupported and reads answer the owner's FULL_CONTROL; under BlockPublicAcls a public
ACL is AccessDenied. The settings need a backend that keeps bucket settings (fs, or s3/oss/obs with a
``meta_bucket``): elsewhere the writes answer NotImplemented naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from gateway import acl as acls
from gateway import objectacl
from gateway.accesssettings import OWNERSHIPS, PublicAccessBlock
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.identity import Identity
from gateway.ops.storedsettings import deleted, stored
from gateway.xmlio import Doc, add

#: The ACL requests a bucket with ACLs disabled accepts: they describe the state it is in.
OWNER_ONLY = ("private", "bucket-owner-full-control")


def _known_ids(ctx: Ctx) -> list[str]:
    return ctx.access.identities.known_ids()


def _names(ctx: Ctx) -> dict[str, str]:
    return ctx.access.identities.display_names()


def caller(ctx: Ctx) -> Identity:
    """The identity of an authenticated request; the default owner for an anonymous one (a write that
    an ACL or policy allowed to everyone)."""
    return ctx.access.identities.by_key(ctx.auth.access_key) or ctx.access.identities.default_owner


async def _check_allowed(ctx: Ctx, bucket: str, acl: acls.Acl | None, named: str | None) -> None:
    """Ownership controls and BlockPublicAcls against an ACL a request sets."""
    settings = ctx.access.settings
    if await settings.ownership(bucket) == "BucketOwnerEnforced":
        if named is None or named.strip() not in OWNER_ONLY:
            raise S3Error("AccessControlListNotSupported")
    if acl is not None and acl.is_public() and (await settings.public_access_block(bucket)).BlockPublicAcls:
        raise S3Error("AccessDenied")


async def write_acl(ctx: Ctx, bucket: str, headers: Mapping[str, str] | None = None) -> acls.Acl | None:
    """The ACL an object write asks for, to store with the object (None: no record, private to the bucket
    owner). Refused as S3 refuses it: see the module docstring. ``headers``: where the ACL is asked
    (a POST form's fields as their header twins), the request's headers by default."""
    headers = ctx.headers if headers is None else headers
    asks = "x-amz-acl" in headers or any(h in headers for h in acls.GRANT_HEADERS)
    writer = caller(ctx)
    ownership = await ctx.access.settings.ownership(bucket)
    if not asks and ownership == "BucketOwnerEnforced":
        return None
    bucket_owner = await ctx.access.settings.owner(bucket)
    named = headers.get("x-amz-acl")
    object_owner = writer
    if ownership == "BucketOwnerPreferred" and (named or "").strip() == "bucket-owner-full-control":
        object_owner = bucket_owner
    acl = acls.requested(headers, object_owner.canonical_id, _known_ids(ctx), bucket_owner.canonical_id)
    if asks:
        await _check_allowed(ctx, bucket, acl, named)
    if ownership == "BucketOwnerEnforced":
        return None
    acl = acl or acls.private(object_owner.canonical_id)  # ObjectWriter: the writer owns what it wrote
    return None if acl == acls.private(bucket_owner.canonical_id) else acl


async def _acl_of_request(ctx: Ctx, owner: str, bucket_owner: str | None) -> tuple[acls.Acl, str | None]:
    """PutBucketAcl / PutObjectAcl: the canned ACL, the grant headers or the body; exactly one."""
    body = await ctx.body.read_small(64 * 1024)
    from_headers = acls.requested(ctx.headers, owner, _known_ids(ctx), bucket_owner)
    named = ctx.headers.get("x-amz-acl")
    if from_headers is not None and body.strip():
        raise S3Error("UnexpectedContent", "This request does not support content")
    if from_headers is not None:
        return from_headers, named.strip() if named is not None else None
    if not body.strip():
        raise S3Error(
            "MissingSecurityHeader",
            "Your request was missing a required header",
            MissingHeaderName="x-amz-acl",
        )
    from gateway.xmlio import parse

    named_owner, acl = acls.parse_policy(parse(body), _known_ids(ctx))
    if named_owner != owner:
        raise S3Error("AccessDenied")
    full = acls.Acl(owner, acl.grants)
    # A body granting exactly the owner's FULL_CONTROL is what bucket-owner-full-control describes.
    return full, "bucket-owner-full-control" if full == acls.private(owner) else None


async def get_bucket_acl(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    owner = await ctx.access.settings.owner(bucket)
    if await ctx.access.settings.ownership(bucket) == "BucketOwnerEnforced":
        acl = acls.private(owner.canonical_id)
    else:
        acl = await ctx.access.settings.bucket_acl(bucket, owner)
    return xml_response(acls.to_document(acl, _names(ctx)))


async def put_bucket_acl(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    owner = await ctx.access.settings.owner(bucket)
    acl, named = await _acl_of_request(ctx, owner.canonical_id, None)
    await _check_allowed(ctx, bucket, acl, named)
    await ctx.settings.put(bucket, "acl", acl.to_json())
    return empty(200)


async def get_object_acl(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    info = await ctx.backend.head_object(bucket, key)
    owner = await ctx.access.settings.owner(bucket)
    stored = None
    if await ctx.access.settings.ownership(bucket) != "BucketOwnerEnforced":
        stored = objectacl.read(info.meta)
    return xml_response(acls.to_document(stored or acls.private(owner.canonical_id), _names(ctx)))


async def put_object_acl(ctx: Ctx) -> Response:
    """Rewrite the object's ACL record: a copy of the object onto itself with the same metadata and the
    new record (the fs backend rewrites its record; providers copy in place, server-side)."""
    bucket, key = ctx.need_bucket, ctx.need_key
    info = await ctx.backend.head_object(bucket, key)
    bucket_owner = await ctx.access.settings.owner(bucket)
    current = objectacl.read(info.meta)
    owner = current.owner if current is not None else bucket_owner.canonical_id
    acl, named = await _acl_of_request(ctx, owner, bucket_owner.canonical_id)
    await _check_allowed(ctx, bucket, acl, named)
    record = None if acl == acls.private(bucket_owner.canonical_id) else acl
    if record == current:
        return empty(200)
    meta = objectacl.attach(info.meta.copy(), record)
    await ctx.backend.copy_object(bucket, key, bucket, key, meta)
    return empty(200)


# -- ownership controls ------------------------------------------------------------------------------
def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


async def put_ownership_controls(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    root = await ctx.read_xml()
    rules = [el for el in root if _local(el.tag) == "Rule"]
    if _local(root.tag) != "OwnershipControls" or len(rules) != 1:
        raise S3Error("MalformedXML")
    values = [el.text.strip() for el in rules[0] if _local(el.tag) == "ObjectOwnership" and el.text]
    if len(values) != 1 or values[0] not in OWNERSHIPS:
        raise S3Error("MalformedXML")
    await ctx.backend.head_bucket(bucket)
    await ctx.settings.put(bucket, "ownership", values[0].encode())
    return empty(200)


async def get_ownership_controls(ctx: Ctx) -> Response:
    raw = await stored(ctx, "ownership", "OwnershipControlsNotFoundError")
    doc = Doc("OwnershipControls")
    add(add(doc.root, "Rule"), "ObjectOwnership", raw.decode())
    return xml_response(doc)


async def delete_ownership_controls(ctx: Ctx) -> Response:
    return await deleted(ctx, "ownership")


# -- public access block -----------------------------------------------------------------------------
async def put_public_access_block(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    root = await ctx.read_xml()
    if _local(root.tag) != "PublicAccessBlockConfiguration":
        raise S3Error("MalformedXML")
    flags: dict[str, bool] = {}
    for el in root:
        name, text = _local(el.tag), (el.text or "").strip().lower()
        if name not in PublicAccessBlock.__dataclass_fields__ or text not in ("true", "false"):
            raise S3Error("MalformedXML")
        flags[name] = text == "true"
    await ctx.backend.head_bucket(bucket)
    await ctx.settings.put(bucket, "public-access-block", PublicAccessBlock(**flags).to_json())
    return empty(200)


async def get_public_access_block(ctx: Ctx) -> Response:
    block = PublicAccessBlock.from_json(
        await stored(ctx, "public-access-block", "NoSuchPublicAccessBlockConfiguration")
    )
    doc = Doc("PublicAccessBlockConfiguration")
    for name in PublicAccessBlock.__dataclass_fields__:
        add(doc.root, name, getattr(block, name))
    return xml_response(doc)


async def delete_public_access_block(ctx: Ctx) -> Response:
    return await deleted(ctx, "public-access-block")
