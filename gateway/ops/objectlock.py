"""Object Lock: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold, and the
lock a new version gets (``x-amz-object-lock-*`` headers, else the bucket's default retention).

The bucket's configuration is a bucket setting (``object-lock``) the gateway evaluates; it can only
exist after the backend's ``enable_object_lock`` succeeded, so lock fields reach only backends that
enforce them (the rules themselves are the backend's: it refuses to remove a locked version whatever
the caller). Lock headers on a bucket without the configuration are S3's InvalidRequest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from starlette.responses import Response

from backends.base import LOCK_MODES, ObjectMeta
from backends.wire.xml import child_text, children, local
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.ops.versions import version_param
from gateway.xmlio import Doc, add, parse, timestamp

SETTING = "object-lock"
BYPASS = "x-amz-bypass-governance-retention"
MISSING_CONFIG = "Bucket is missing Object Lock Configuration"
LOCK_FIELDS = ("lock_mode", "lock_retain_until", "legal_hold")


def _date(raw: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise S3Error(
            "InvalidArgument", "The retain until date must be provided in ISO 8601 format"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def _retention(mode: str | None, until: str | None, now: dt.datetime) -> tuple[str, str]:
    """A (mode, normalised date) retention from a request's two values, checked as S3 checks them."""
    if mode is None or until is None:
        raise S3Error(
            "InvalidArgument",
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )
    if mode not in LOCK_MODES:
        raise S3Error("InvalidArgument", "Unknown wormMode directive.")
    date = _date(until)
    if date <= now:
        raise S3Error("InvalidArgument", "The retain until date must be in the future!")
    return mode, timestamp(date)


def _hold(value: str) -> bool:
    if value not in ("ON", "OFF"):
        raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'")
    return value == "ON"


def lock_from_headers(headers: Mapping[str, str], now: dt.datetime) -> dict[str, object]:
    """The lock fields a PUT, Copy or CreateMultipartUpload asks for in its headers ({} for none)."""
    mode = headers.get("x-amz-object-lock-mode")
    until = headers.get("x-amz-object-lock-retain-until-date")
    hold = headers.get("x-amz-object-lock-legal-hold")
    fields: dict[str, object] = {}
    if mode is not None or until is not None:
        fields["lock_mode"], fields["lock_retain_until"] = _retention(mode, until, now)
    if hold is not None:
        fields["legal_hold"] = _hold(hold)
    return fields


def parse_configuration(body: bytes) -> tuple[str | None, int | None, int | None]:
    """An ObjectLockConfiguration document: the default retention's (mode, days, years), all None
    when it sets none."""
    root = parse(body)
    if local(root.tag) != "ObjectLockConfiguration" or child_text(root, "ObjectLockEnabled") != "Enabled":
        raise S3Error("MalformedXML")
    rules = children(root, "Rule")
    if not rules:
        return None, None, None
    defaults = children(rules[0], "DefaultRetention")
    if len(rules) > 1 or len(defaults) != 1:
        raise S3Error("MalformedXML")
    default = defaults[0]
    mode, days, years = (child_text(default, n) for n in ("Mode", "Days", "Years"))
    if mode not in LOCK_MODES or (days is None) == (years is None):
        raise S3Error("MalformedXML")
    period = (days or years or "").strip()
    if not period.lstrip("-").isdigit() or int(period) <= 0:
        raise S3Error("InvalidArgument", "Default retention period must be a positive integer value")
    return mode, int(days) if days else None, int(years) if years else None


def configuration_document(mode: str | None, days: int | None, years: int | None) -> bytes:
    doc = Doc("ObjectLockConfiguration")
    add(doc.root, "ObjectLockEnabled", "Enabled")
    if mode is not None:
        default = add(add(doc.root, "Rule"), "DefaultRetention")
        add(default, "Mode", mode)
        add(default, "Days" if days is not None else "Years", days if days is not None else years)
    return doc.to_bytes()


def default_retention(document: bytes, now: dt.datetime) -> dict[str, object]:
    """The lock fields a new version gets from the bucket's default retention ({} for none)."""
    mode, days, years = parse_configuration(document)
    if mode is None:
        return {}
    until = now + dt.timedelta(days=days if days is not None else 365 * (years or 0))
    return {"lock_mode": mode, "lock_retain_until": timestamp(until)}


def lock_headers(meta: ObjectMeta) -> dict[str, str]:
    """The lock headers GET and HEAD answer with."""
    headers: dict[str, str] = {}
    if meta.lock_mode and meta.lock_retain_until:
        headers["x-amz-object-lock-mode"] = meta.lock_mode
        headers["x-amz-object-lock-retain-until-date"] = meta.lock_retain_until
    if meta.legal_hold is not None:
        headers["x-amz-object-lock-legal-hold"] = "ON" if meta.legal_hold else "OFF"
    return headers


def has_integrity_header(headers: Mapping[str, str]) -> bool:
    return (
        "content-md5" in headers
        or "x-amz-sdk-checksum-algorithm" in headers
        or any(h.startswith("x-amz-checksum-") and h != "x-amz-checksum-mode" for h in headers)
        or headers.get("x-amz-trailer", "").lower().startswith("x-amz-checksum-")
    )


async def configuration(ctx: Ctx, bucket: str) -> bytes | None:
    return await ctx.settings.get_if_supported(bucket, SETTING)


async def new_version_lock(ctx: Ctx, bucket: str, *, put: bool = False) -> dict[str, object]:
    """The lock fields of a version a write makes in ``bucket``: the request's headers, else the
    bucket's default retention. {} in a bucket without Object Lock (where lock headers are refused).
    A PutObject that locks must carry Content-MD5 or a checksum, as S3 requires."""
    now = dt.datetime.now(dt.timezone.utc)
    asked = lock_from_headers(ctx.headers, now)
    document = await configuration(ctx, bucket)
    if document is None:
        if asked and asked != {"legal_hold": False}:  # a hold OFF asks for nothing: accepted
            raise S3Error("InvalidRequest", MISSING_CONFIG)
        return {}
    fields = {**default_retention(document, now), **asked}
    if put and fields and not has_integrity_header(ctx.headers):
        raise S3Error(
            "InvalidRequest",
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object "
            "Lock parameters",
        )
    return {name: fields.get(name) for name in LOCK_FIELDS}


async def bypass_governance(ctx: Ctx, bucket: str) -> bool:
    """Whether a request in a lock bucket asks to bypass GOVERNANCE retention; only a key with the
    bucket's admin right may (S3's s3:BypassGovernanceRetention)."""
    if ctx.headers.get(BYPASS, "").strip().lower() != "true":
        return False
    if await configuration(ctx, bucket) is None:
        return False
    ctx.policy.authorize(ctx.auth.access_key, bucket, "admin")
    return True


async def _need_configuration(ctx: Ctx, bucket: str) -> None:
    if await configuration(ctx, bucket) is None:
        raise S3Error("InvalidRequest", MISSING_CONFIG)


# -- bucket configuration -----------------------------------------------------------------------------
async def enable_on_new_bucket(ctx: Ctx, bucket: str) -> None:
    """CreateBucket with ``x-amz-bucket-object-lock-enabled: true``: a backend that cannot lock leaves
    no bucket behind."""
    try:
        await ctx.backend.enable_object_lock(bucket)
        await ctx.settings.put(bucket, SETTING, configuration_document(None, None, None))
    except BaseException:
        await ctx.backend.delete_bucket(bucket)
        raise


async def put_object_lock_configuration(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    mode, days, years = parse_configuration(await ctx.body.read_small(64 * 1024))
    if await configuration(ctx, bucket) is None:
        if await ctx.backend.get_bucket_versioning(bucket) != "Enabled":
            raise S3Error(
                "InvalidBucketState",
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            )
        await ctx.backend.enable_object_lock(bucket)
    await ctx.settings.put(bucket, SETTING, configuration_document(mode, days, years))
    return empty(200)


async def get_object_lock_configuration(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    document = await configuration(ctx, bucket)
    if document is None:
        raise S3Error("ObjectLockConfigurationNotFoundError")
    return Response(document, media_type="application/xml")


# -- per version ------------------------------------------------------------------------------------
async def put_object_retention(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    version = version_param(ctx.query)
    root = parse(await ctx.body.read_small(64 * 1024))
    if local(root.tag) != "Retention":
        raise S3Error("MalformedXML")
    mode, until = child_text(root, "Mode"), child_text(root, "RetainUntilDate")
    await _need_configuration(ctx, bucket)
    bypass = await bypass_governance(ctx, bucket)
    if mode is None and until is None:  # an empty Retention removes it (a GOVERNANCE one with bypass)
        await ctx.backend.put_object_retention(bucket, key, version, None, None, bypass)
    else:
        mode, until = _retention(mode, until, dt.datetime.now(dt.timezone.utc))
        await ctx.backend.put_object_retention(bucket, key, version, mode, until, bypass)
    return empty(200)


async def get_object_retention(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    await _need_configuration(ctx, bucket)
    info = await ctx.backend.head_object(bucket, key, version_param(ctx.query))
    if not (info.meta.lock_mode and info.meta.lock_retain_until):
        raise S3Error("NoSuchObjectLockConfiguration")
    doc = Doc("Retention")
    add(doc.root, "Mode", info.meta.lock_mode)
    add(doc.root, "RetainUntilDate", info.meta.lock_retain_until)
    return xml_response(doc)


async def put_object_legal_hold(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    version = version_param(ctx.query)
    root = parse(await ctx.body.read_small(64 * 1024))
    status = child_text(root, "Status")
    if local(root.tag) != "LegalHold" or status is None:
        raise S3Error("MalformedXML")
    await _need_configuration(ctx, bucket)
    await ctx.backend.put_object_legal_hold(bucket, key, version, _hold(status))
    return empty(200)


async def get_object_legal_hold(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    await _need_configuration(ctx, bucket)
    info = await ctx.backend.head_object(bucket, key, version_param(ctx.query))
    if info.meta.legal_hold is None:
        raise S3Error("NoSuchObjectLockConfiguration")
    doc = Doc("LegalHold")
    add(doc.root, "Status", "ON" if info.meta.legal_hold else "OFF")
    return xml_response(doc)
