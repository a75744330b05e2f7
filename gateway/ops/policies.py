"""Bucket policy operations: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

A policy is checked whole at PUT (gateway.bucketpolicy; MalformedPolicy naming the problem) and stored
as the client sent it, so GET answers the same document. BlockPublicPolicy refuses a public one
(AccessDenied, as S3).
"""

from __future__ import annotations

from starlette.responses import Response

from gateway import bucketpolicy
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.ops.storedsettings import deleted, stored
from gateway.xmlio import Doc, add


async def put_bucket_policy(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    document = await ctx.body.read_small(bucketpolicy.MAX_POLICY_BYTES + 1)
    policy = bucketpolicy.parse(document, bucket, ctx.access.identities)
    await ctx.backend.head_bucket(bucket)
    if policy.is_public() and (await ctx.access.settings.public_access_block(bucket)).BlockPublicPolicy:
        raise S3Error("AccessDenied")
    await ctx.settings.put(bucket, "policy", document)
    return empty(204)


async def get_bucket_policy(ctx: Ctx) -> Response:
    document = await stored(ctx, "policy", "NoSuchBucketPolicy")
    return Response(document, status_code=200, media_type="application/json")


async def delete_bucket_policy(ctx: Ctx) -> Response:
    return await deleted(ctx, "policy")


async def get_bucket_policy_status(ctx: Ctx) -> Response:
    await stored(ctx, "policy", "NoSuchBucketPolicy")
    policy = await ctx.access.settings.policy(ctx.need_bucket)
    if policy is None:
        raise S3Error("NoSuchBucketPolicy", BucketName=ctx.need_bucket)
    doc = Doc("PolicyStatus")
    add(doc.root, "IsPublic", policy.is_public())
    return xml_response(doc)
