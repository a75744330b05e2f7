"""What every bucket-setting operation shares: read one stored document (S3's "not configured" error
when unset) and delete one (204, unset or not). The bucket must exist either way (NoSuchBucket)."""

from __future__ import annotations

from starlette.responses import Response

from gateway.context import Ctx, empty
from gateway.errors import S3Error


async def stored(ctx: Ctx, name: str, missing: str) -> bytes:
    """The bucket's ``name`` document; ``missing`` (an S3 error code) when none is set."""
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    document = await ctx.settings.get_if_supported(bucket, name)
    if not document:
        raise S3Error(missing, BucketName=bucket)
    return document


async def deleted(ctx: Ctx, name: str) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    await ctx.settings.delete(bucket, name)
    return empty(204)
