"""Service and bucket operations: ListBuckets, Create/Delete/HeadBucket and the read-only bucket
configuration answers clients ask for (location, versioning, ACL, and the "not configured" errors)."""

from __future__ import annotations

from lxml import etree
from starlette.responses import Response

from backends.wire.xml import child_text
from gateway.addressing import valid_bucket_name
from gateway.context import OWNER_ID, OWNER_NAME, Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.xmlio import Doc, add

EMPTY_BUCKET_CONFIG_ERRORS = {
    "policy": "NoSuchBucketPolicy",
    "lifecycle": "NoSuchLifecycleConfiguration",
    "cors": "NoSuchCORSConfiguration",
    "tagging": "NoSuchTagSet",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
}


def owner(parent: etree._Element, tag: str = "Owner") -> None:
    el = add(parent, tag)
    add(el, "ID", OWNER_ID)
    add(el, "DisplayName", OWNER_NAME)


async def list_buckets(ctx: Ctx) -> Response:
    buckets = await ctx.backend.list_buckets()
    doc = Doc("ListAllMyBucketsResult")
    owner(doc.root)
    container = add(doc.root, "Buckets")
    for info in sorted(buckets, key=lambda b: b.name):
        if not ctx.policy.may_see_bucket(ctx.auth.access_key, info.name):
            continue
        el = add(container, "Bucket")
        add(el, "Name", info.name)
        add(el, "CreationDate", info.created)
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
    ctx.settings.forget(bucket)  # a bucket of the same name deleted just before had its own settings
    if ctx.headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true":
        from gateway.ops.objectlock import enable_on_new_bucket  # it imports this module (owner)

        await enable_on_new_bucket(ctx, bucket)
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
    """Bucket policy, lifecycle, CORS, tagging, encryption: never configured through this gateway."""
    await ctx.backend.head_bucket(ctx.need_bucket)
    for sub, code in EMPTY_BUCKET_CONFIG_ERRORS.items():
        if sub in ctx.query:
            raise S3Error(code, BucketName=ctx.need_bucket)
    raise S3Error("NotImplemented")


async def get_object_tagging(ctx: Ctx) -> Response:
    await ctx.backend.head_object(ctx.need_bucket, ctx.need_key)
    doc = Doc("Tagging")
    add(doc.root, "TagSet")
    return xml_response(doc)


async def not_implemented(ctx: Ctx) -> Response:
    raise S3Error("NotImplemented")
