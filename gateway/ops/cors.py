"""CORS operations: Put/Get/DeleteBucketCors, the OPTIONS preflight, and the Access-Control-* headers
of actual answers. The rules are a bucket setting (``cors``), read through ``ctx.settings``; a bucket
without rules uses the configuration's ``cors`` default, if any."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.responses import Response

from backends import errors as be
from gateway import cors
from gateway.bucketsettings import BucketSettings
from gateway.config import Config, CorsSettings
from gateway.context import Ctx, empty
from gateway.errors import S3Error

SETTING = "cors"
log = logging.getLogger("s3bridge")


def default_config(settings: CorsSettings | None) -> cors.CorsConfig | None:
    """The configuration's default rules as the matcher's rules."""
    if settings is None:
        return None
    return cors.CorsConfig(
        tuple(
            cors.CorsRule(
                allowed_origins=tuple(r.allowed_origins),
                allowed_methods=tuple(r.allowed_methods),
                allowed_headers=tuple(r.allowed_headers),
                expose_headers=tuple(r.expose_headers),
                max_age_seconds=r.max_age_seconds,
                id=r.id,
            )
            for r in settings.rules
        )
    )


async def bucket_rules(settings: BucketSettings, config: Config, bucket: str) -> cors.CorsConfig | None:
    """The bucket's own rules, else the configured default, else None; NoSuchBucket propagates."""
    document = await settings.get_if_supported(bucket, SETTING)
    if document is not None:
        return cors.parse_config(document)
    return default_config(config.cors)


def _require_integrity_header(headers: Mapping[str, str]) -> None:
    """PutBucketCors needs Content-MD5 (or a checksum, which newer SDKs send instead), as S3 requires."""
    if "content-md5" in headers or "x-amz-trailer" in headers:
        return
    if (
        any(name.startswith("x-amz-checksum-") for name in headers)
        or "x-amz-sdk-checksum-algorithm" in headers
    ):
        return
    raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")


async def put_bucket_cors(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    _require_integrity_header(ctx.headers)
    config = cors.parse_config(await ctx.body.read_small(cors.MAX_DOCUMENT_BYTES))
    await ctx.settings.put(bucket, SETTING, cors.to_xml(config))
    return empty(200)


async def get_bucket_cors(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    document = await ctx.settings.get(bucket, SETTING)
    if document is None:
        raise S3Error("NoSuchCORSConfiguration", BucketName=bucket)
    return Response(document, media_type="application/xml")


async def delete_bucket_cors(ctx: Ctx) -> Response:
    await ctx.settings.delete(ctx.need_bucket, SETTING)
    return empty(204)


async def preflight(ctx: Ctx) -> Response:
    """OPTIONS: the browser asks whether a cross-origin request may be made; no credentials come."""
    origin, method = cors.preflight_request(
        ctx.headers.get("origin"), ctx.headers.get("access-control-request-method")
    )
    resource_type = "OBJECT" if ctx.key else "BUCKET"
    rules = await bucket_rules(ctx.settings, ctx.config, ctx.need_bucket)
    if rules is None:
        raise cors.forbidden(cors.NOT_ENABLED, method, resource_type)
    requested = cors.requested_headers(ctx.headers.get("access-control-request-headers"))
    rule = cors.find_rule(rules, origin, method, requested)
    if rule is None:
        raise cors.forbidden(cors.NOT_ALLOWED, method, resource_type)
    return empty(200, cors.preflight_headers(rule, origin, requested))


async def actual_headers(
    settings: BucketSettings, config: Config, bucket: str | None, origin: str | None, method: str
) -> dict[str, str]:
    """The Access-Control-* headers for the answer to a request from ``origin`` (errors included)."""
    if not origin or bucket is None or method == "OPTIONS":
        return {}
    try:
        rules = await bucket_rules(settings, config, bucket)
    except (be.BackendError, S3Error):  # no such bucket, or an unreadable setting: the default, if any
        rules = default_config(config.cors)
    except Exception:  # decorating an answer never replaces it with a failure
        log.exception("CORS rules of bucket %r unreadable", bucket)
        rules = default_config(config.cors)
    return {} if rules is None else cors.response_headers(rules, origin, method)
