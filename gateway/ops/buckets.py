"""Service and bucket operations: ListBuckets, Create/Delete/HeadBucket and the read-only bucket
configuration answers clients ask for (location, versioning, ACL, and the "not configured" errors)."""

from __future__ import annotations

import base64

from lxml import etree
from starlette.responses import Response

from backends.wire.xml import child_text
from gateway.addressing import valid_bucket_name
from gateway.context import OWNER_ID, OWNER_NAME, Ctx, bounded_int_argument, empty, xml_response
from gateway.errors import S3Error
from gateway.xmlio import Doc, add

EMPTY_BUCKET_CONFIG_ERRORS = {
    "policy": "NoSuchBucketPolicy",
    "lifecycle": "NoSuchLifecycleConfiguration",
    "cors": "NoSuchCORSConfiguration",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
}


def owner(parent: etree._Element, tag: str = "Owner") -> None:
    el = add(parent, tag)
    add(el, "ID", OWNER_ID)
    add(el, "DisplayName", OWNER_NAME)


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
    """ListBuckets with S3's optional paging (``max-buckets``, ``continuation-token``), ``prefix`` and
    ``bucket-region`` (every bucket is in the gateway's one region)."""
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
    page = visible[:limit]
    doc = Doc("ListAllMyBucketsResult")
    owner(doc.root)
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


async def create_bucket(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    if not valid_bucket_name(bucket):
        raise S3Error("InvalidBucketName", BucketName=bucket)
    region = None
    body = await ctx.body.read_small(64 * 1024)
    if body.strip():
        from gateway.xmlio import parse

        region = child_text(parse(body), "LocationConstraint") or None
    await ctx.backend.create_bucket(bucket, region)
    return empty(200, {"Location": f"/{bucket}"})


async def delete_bucket(ctx: Ctx) -> Response:
    await ctx.backend.delete_bucket(ctx.need_bucket)
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


async def get_versioning(ctx: Ctx) -> Response:
    await ctx.backend.head_bucket(ctx.need_bucket)
    return xml_response(Doc("VersioningConfiguration"))


def acl_document() -> Doc:
    doc = Doc("AccessControlPolicy")
    owner(doc.root)
    grants = add(doc.root, "AccessControlList")
    grant = add(grants, "Grant")
    grantee = add(grant, "Grantee")
    grantee.set("{http://www.w3.org/2001/XMLSchema-instance}type", "CanonicalUser")
    add(grantee, "ID", OWNER_ID)
    add(grantee, "DisplayName", OWNER_NAME)
    add(grant, "Permission", "FULL_CONTROL")
    return doc


async def get_bucket_acl(ctx: Ctx) -> Response:
    await ctx.backend.head_bucket(ctx.need_bucket)
    return xml_response(acl_document())


async def get_object_acl(ctx: Ctx) -> Response:
    await ctx.backend.head_object(ctx.need_bucket, ctx.need_key)
    return xml_response(acl_document())


async def get_bucket_config_absent(ctx: Ctx) -> Response:
    """Bucket policy, lifecycle, CORS, encryption: never configured through this gateway."""
    await ctx.backend.head_bucket(ctx.need_bucket)
    for sub, code in EMPTY_BUCKET_CONFIG_ERRORS.items():
        if sub in ctx.query:
            raise S3Error(code, BucketName=ctx.need_bucket)
    raise S3Error("NotImplemented")


async def not_implemented(ctx: Ctx) -> Response:
    raise S3Error("NotImplemented")
