"""Tagging operations: Put/Get/DeleteObjectTagging and Put/Get/DeleteBucketTagging.

Object tags live with the object in the store (the backend contract's tagging calls); a bucket's tag set
is one of its settings documents (``ctx.settings``, name ``tagging``), kept as the normalised
``<Tagging>`` document. Every tag set is checked against S3's rules (``gateway.tagging``) before it is
stored, so each backend holds only what S3 would have accepted.
"""

from __future__ import annotations

from starlette.responses import Response

from backends.wire.tagging import parse_tagging, tagging_document
from gateway.context import Ctx, empty
from gateway.errors import S3Error
from gateway.ops.versions import version_param
from gateway.tagging import sorted_tags, tags_from_document
from gateway.xmlio import MAX_XML_BYTES

SETTING = "tagging"


def _tagging_response(tags: list[tuple[str, str]], headers: dict[str, str] | None = None) -> Response:
    return Response(tagging_document(tags), status_code=200, headers=headers, media_type="application/xml")


def _version(ctx: Ctx) -> str | None:
    return version_param(ctx.query)


async def get_object_tagging(ctx: Ctx) -> Response:
    version_id = _version(ctx)
    tags = await ctx.backend.get_object_tagging(ctx.need_bucket, ctx.need_key, version_id=version_id)
    return _tagging_response(sorted_tags(tags))


async def put_object_tagging(ctx: Ctx) -> Response:
    version_id = _version(ctx)
    tags = tags_from_document(await ctx.body.read_small(MAX_XML_BYTES))
    await ctx.backend.put_object_tagging(ctx.need_bucket, ctx.need_key, tags, version_id=version_id)
    return empty(200)


async def delete_object_tagging(ctx: Ctx) -> Response:
    version_id = _version(ctx)
    await ctx.backend.delete_object_tagging(ctx.need_bucket, ctx.need_key, version_id=version_id)
    return empty(204)


async def get_bucket_tagging(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    document = await ctx.settings.get_if_supported(bucket, SETTING)
    if document is None:
        await ctx.backend.head_bucket(bucket)  # NoSuchBucket before NoSuchTagSet
        raise S3Error("NoSuchTagSet", BucketName=bucket)
    return _tagging_response(parse_tagging(document))


async def put_bucket_tagging(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    tags = tags_from_document(await ctx.body.read_small(MAX_XML_BYTES), bucket=True)
    await ctx.backend.head_bucket(bucket)
    await ctx.settings.put(bucket, SETTING, tagging_document(sorted_tags(tags)))
    return empty(204)


async def delete_bucket_tagging(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    await ctx.settings.delete(bucket, SETTING)
    return empty(204)
