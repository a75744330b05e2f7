"""Service and bucket operations: ListBuckets, Create/Delete/HeadBucket and the read-only bucket
configuration answers clients ask for (location, versioning, and the "not configured" errors). ACLs,
ownership controls and policies are gateway.ops.acls and gateway.ops.policies."""

from __future__ import annotations

import base64

from lxml import etree
from starlette.responses import Response

from backends import errors as be
from backends.wire.xml import child_text
from gateway import acl as acls
from gateway.accesssettings import ALL_BLOCKED, OWNERSHIPS
from gateway.addressing import valid_bucket_name
from gateway.context import Ctx, bounded_int_argument, empty, xml_response
from gateway.errors import S3Error
from gateway.identity import Identity
from gateway.ops import acls as acl_ops
from gateway.xmlio import Doc, add

EMPTY_BUCKET_CONFIG_ERRORS = {
    "policy": "NoSuchBucketPolicy",
    "lifecycle": "NoSuchLifecycleConfiguration",
    "cors": "NoSuchCORSConfiguration",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
}


def owner(parent: etree._Element, who: Identity, tag: str = "Owner") -> None:
    el = add(parent, tag)
    add(el, "ID", who.canonical_id)
    add(el, "DisplayName", who.display_name)


MAX_BUCKETS = 10000


def _bucket_token(name: str) -> str:
    """ListBuckets' opaque continuation token: the last name served, base64url."""
    return base64.urlsafe_b64encode(name.encode()).decode("ascii")


def _after_token(token: str) -> str:
    try:
        name = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
        if not name:
            raise ValueError("empty token")
        return name
    except (ValueError, UnicodeError):
        raise S3Error(
            "InvalidArgument",
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
            ArgumentValue=token,
        ) from None


async def list_buckets(ctx: Ctx) -> Response:
    """The caller's buckets (those its configured rights reach, and for an ``isolated`` key pair only
    those it owns, as S3 lists an account's own buckets), with S3's optional paging (``max-buckets``,
    ``continuation-token``), ``prefix`` and ``bucket-region`` (every bucket is in the gateway's one
    region)."""
    caller = ctx.access.identities.by_key(ctx.auth.access_key) or ctx.access.identities.default_owner
    limit = MAX_BUCKETS
    if "max-buckets" in ctx.query:
        message = f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS}"
        limit = bounded_int_argument(ctx.query["max-buckets"], "max-buckets", 1, MAX_BUCKETS, message)
    prefix = ctx.query.get("prefix", "")
    token = ctx.query.get("continuation-token")
    after = _after_token(token) if token else None
    region = ctx.config.server.region
    wanted = ctx.query.get("bucket-region")
    visible = [
        info
        for info in sorted(await ctx.backend.list_buckets(), key=lambda b: b.name.encode())
        if info.name.startswith(prefix)
        and (after is None or info.name.encode() > after.encode())
        and (wanted is None or wanted == region)
        and ctx.policy.may_see_bucket(ctx.auth.access_key, info.name)
    ]
    if caller.isolated:
        visible = [info for info in visible if await _owner_or_none(ctx, info.name) == caller.canonical_id]
    page = visible[:limit]
    doc = Doc("ListAllMyBucketsResult")
    owner(doc.root, caller)
    container = add(doc.root, "Buckets")
    for info in page:
        el = add(container, "Bucket")
        add(el, "Name", info.name)
        add(el, "CreationDate", info.created)
        add(el, "BucketRegion", region)
    if len(visible) > limit:
        add(doc.root, "ContinuationToken", _bucket_token(page[-1].name))
    if "prefix" in ctx.query:
        add(doc.root, "Prefix", prefix)
    return xml_response(doc)


async def _owner_or_none(ctx: Ctx, bucket: str) -> str | None:
    try:
        return (await ctx.access.settings.owner(bucket)).canonical_id
    except be.NoSuchBucket:  # deleted between the listing and now
        return None


async def create_bucket(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    if not valid_bucket_name(bucket):
        raise S3Error("InvalidBucketName", BucketName=bucket)
    creator = acl_ops.caller(ctx)
    ownership = ctx.headers.get("x-amz-object-ownership", "BucketOwnerEnforced").strip()
    if ownership not in OWNERSHIPS:
        raise S3Error(
            "InvalidArgument", "Invalid x-amz-object-ownership header", ArgumentName="x-amz-object-ownership"
        )
    acl = acls.requested(ctx.headers, creator.canonical_id, ctx.access.identities.known_ids())
    named = ctx.headers.get("x-amz-acl", "").strip()
    if acl is not None and ownership == "BucketOwnerEnforced" and named not in acl_ops.OWNER_ONLY:
        raise S3Error("InvalidBucketAclWithObjectOwnership")
    region = None
    body = await ctx.body.read_small(64 * 1024)
    if body.strip():
        from gateway.xmlio import parse

        region = child_text(parse(body), "LocationConstraint") or None
    record = None if acl is None or acl == acls.private(creator.canonical_id) else acl.to_json()
    try:
        await ctx.backend.create_bucket(bucket, region)
    except (be.BucketAlreadyOwnedByYou, be.BucketAlreadyExists) as exc:
        return await _recreate(ctx, bucket, creator.canonical_id, record, exc)
    ctx.settings.forget(bucket)
    await _first_settings(ctx, bucket, creator.canonical_id, ownership, record)
    if ctx.headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true":
        from gateway.ops.objectlock import enable_on_new_bucket  # it imports this module (owner)

        await enable_on_new_bucket(ctx, bucket)
    return empty(200, {"Location": f"/{bucket}"})


async def _recreate(
    ctx: Ctx, bucket: str, creator: str, record: bytes | None, exc: be.BackendError
) -> Response:
    """CreateBucket of an existing name: another identity's → BucketAlreadyExists; the caller's →
    BucketAlreadyOwnedByYou, except in us-east-1 where S3 answers 200 and resets the bucket's ACL."""
    ctx.settings.forget(bucket)
    try:
        current = (await ctx.access.settings.owner(bucket)).canonical_id
    except be.BackendError:
        raise exc from None  # taken on the store by someone the gateway does not know
    if current != creator:
        raise S3Error("BucketAlreadyExists", BucketName=bucket)
    if ctx.config.server.region != "us-east-1":
        raise S3Error("BucketAlreadyOwnedByYou", BucketName=bucket)
    try:
        if record is None:
            await ctx.settings.delete(bucket, "acl")
        else:
            await ctx.settings.put(bucket, "acl", record)
    except be.NotImplementedByBackend:
        if record is not None:
            raise
    return empty(200, {"Location": f"/{bucket}"})


async def _first_settings(ctx: Ctx, bucket: str, creator: str, ownership: str, acl: bytes | None) -> None:
    """A new bucket's owner, ownership controls, public-access block (all four flags, as AWS since 2023)
    and ACL. A backend that keeps no settings can only have the defaults: asking it for more removes the
    bucket again and answers NotImplemented."""
    try:
        await ctx.settings.put(bucket, "owner", creator.encode())
        await ctx.settings.put(bucket, "ownership", ownership.encode())
        await ctx.settings.put(bucket, "public-access-block", ALL_BLOCKED.to_json())
        if acl is not None:
            await ctx.settings.put(bucket, "acl", acl)
    except be.NotImplementedByBackend:
        if ownership == "BucketOwnerEnforced" and acl is None:
            return  # the defaults are what a bucket without records has
        await ctx.backend.delete_bucket(bucket)
        raise


async def delete_bucket(ctx: Ctx) -> Response:
    await ctx.backend.delete_bucket(ctx.need_bucket)
    ctx.settings.forget(ctx.need_bucket)
    return empty(204)


async def head_bucket(ctx: Ctx) -> Response:
    await ctx.backend.head_bucket(ctx.need_bucket)
    return empty(200, {"x-amz-bucket-region": ctx.config.server.region})


async def get_location(ctx: Ctx) -> Response:
    await ctx.backend.head_bucket(ctx.need_bucket)
    doc = Doc("LocationConstraint")
    region = ctx.config.server.region
    if region != "us-east-1":
        doc.root.text = region
    return xml_response(doc)


async def get_bucket_config_absent(ctx: Ctx) -> Response:
    """Bucket policy, lifecycle, CORS, encryption: never configured through this gateway."""
    await ctx.backend.head_bucket(ctx.need_bucket)
    for sub, code in EMPTY_BUCKET_CONFIG_ERRORS.items():
        if sub in ctx.query:
            raise S3Error(code, BucketName=ctx.need_bucket)
    raise S3Error("NotImplemented")


async def not_implemented(ctx: Ctx) -> Response:
    raise S3Error("NotImplemented")
