"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size in one answer.

The caller names what it wants in ``x-amz-object-attributes``; ObjectParts pages with ``x-amz-max-parts``
and ``x-amz-part-number-marker`` and is present only for an object uploaded in parts; as on S3, it lists
the parts only when the upload had additional checksums (else only PartsCount). Its part list comes
from the backend (``Backend.object_parts``); where the store cannot tell the boundaries the answer still
carries the parts count, which the ETag names.
"""

from __future__ import annotations

from email.utils import format_datetime

from starlette.responses import Response

from backends import errors as be
from backends.base import CHECKSUM_ALGORITHMS, ObjectInfo, ObjectPart
from gateway.context import Ctx, xml_response
from gateway.errors import S3Error
from gateway.ops.versions import version_headers, version_param
from gateway.parts import parts_count
from gateway.xmlio import Doc, add

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
DEFAULT_MAX_PARTS = 1000


def requested_attributes(value: str | None) -> set[str]:
    """The names in ``x-amz-object-attributes`` (comma-separated; names are case-sensitive in S3)."""
    names = {n.strip() for n in (value or "").split(",") if n.strip()}
    if not names:
        raise S3Error(
            "InvalidRequest",
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either "
            "missing or empty",
        )
    unknown = sorted(names - set(ATTRIBUTES))
    if unknown:
        raise S3Error(
            "InvalidArgument",
            "Invalid attribute name specified.",
            ArgumentName="x-amz-object-attributes",
            ArgumentValue=unknown[0],
        )
    return names


def _int_header(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.headers.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit():
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range")
    return int(raw.strip())


def _add_checksums(parent: object, checksums: dict[str, str]) -> None:
    for alg in CHECKSUM_ALGORITHMS:
        value = checksums.get(alg)
        if value:
            add(parent, "Checksum" + alg.upper(), value)  # type: ignore[arg-type]


async def _parts(ctx: Ctx, info: ObjectInfo) -> list[ObjectPart] | None:
    try:
        found = await ctx.backend.object_parts(ctx.need_bucket, ctx.need_key, version_id=info.version_id)
    except be.NotImplementedByBackend:
        return None
    if found is None or found[0] != info.etag:
        return None
    return found[1]


async def get_object_attributes(ctx: Ctx) -> Response:
    version = version_param(ctx.query)
    wanted = requested_attributes(ctx.headers.get("x-amz-object-attributes"))
    max_parts = min(_int_header(ctx, "x-amz-max-parts", DEFAULT_MAX_PARTS), DEFAULT_MAX_PARTS)
    marker = _int_header(ctx, "x-amz-part-number-marker", 0)
    info = await ctx.backend.head_object(ctx.need_bucket, ctx.need_key, version)
    doc = Doc("GetObjectAttributesOutput")
    if "ETag" in wanted:
        add(doc.root, "ETag", info.etag)
    if "Checksum" in wanted:
        info = await ctx.backend.stored_checksums(ctx.need_bucket, ctx.need_key, info)
    sums = {a: v for a, v in info.meta.checksums.items() if a in CHECKSUM_ALGORITHMS and v}
    if "Checksum" in wanted and sums:
        checksum = add(doc.root, "Checksum")
        _add_checksums(checksum, sums)
        add(checksum, "ChecksumType", info.meta.checksum_type or "FULL_OBJECT")
    count = parts_count(info.etag)
    if "ObjectParts" in wanted and count is not None:
        await _object_parts(ctx, doc, info, count, marker, max_parts)
    if "StorageClass" in wanted:
        add(doc.root, "StorageClass", info.meta.storage_class or "STANDARD")
    if "ObjectSize" in wanted:
        add(doc.root, "ObjectSize", info.size)
    last_modified = format_datetime(info.last_modified, usegmt=True)
    return xml_response(doc, headers={"Last-Modified": last_modified, **version_headers(info)})


async def _object_parts(
    ctx: Ctx, doc: Doc, info: ObjectInfo, count: int, marker: int, max_parts: int
) -> None:
    el = add(doc.root, "ObjectParts")
    add(el, "PartsCount", count)
    listed = await _parts(ctx, info)
    if listed is None or not any(p.checksums for p in listed):
        return  # as S3: the parts are listed only for an upload with additional checksums
    after = [p for p in listed if p.part_number > marker]
    page = after[:max_parts]
    truncated = len(after) > len(page)
    add(el, "PartNumberMarker", marker)
    if page:
        add(el, "NextPartNumberMarker", page[-1].part_number)
    add(el, "MaxParts", max_parts)
    add(el, "IsTruncated", truncated)
    for part in page:
        item = add(el, "Part")
        add(item, "PartNumber", part.part_number)
        add(item, "Size", part.size)
        _add_checksums(item, part.checksums)
