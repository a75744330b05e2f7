"""Reading one part of a multipart object: GetObject and HeadObject with ``partNumber``.

S3 serves part N of an object completed from parts as a ranged read of that part's bytes (206,
Content-Range, ``x-amz-mp-parts-count``). An object not uploaded in parts has one part, the whole object;
any other number is 416 InvalidPartNumber. The parts count is in the ETag (``<hex>-N``), so only a
multipart object's read asks the backend for the boundaries (``Backend.object_parts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backends.base import MAX_PART_NUMBER, Backend, ByteRange, ObjectPart
from gateway.context import bounded_int_argument
from gateway.errors import S3Error


def part_number(query: Mapping[str, str], headers: Mapping[str, str]) -> int | None:
    """The ``partNumber`` asked for (None when absent); S3's refusals of a bad one or of one with Range."""
    raw = query.get("partNumber")
    if raw is None:
        return None
    message = f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
    number = bounded_int_argument(raw, "partNumber", 1, MAX_PART_NUMBER, message)
    if "range" in headers:
        raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
    return number


def parts_count(etag: str) -> int | None:
    """The number of parts a multipart ETag names, None for an object not uploaded in parts."""
    _, dash, count = etag.rpartition("-")
    return int(count) if dash and count.isdigit() else None


def part_span(parts: list[ObjectPart], number: int) -> tuple[int, int]:
    """The inclusive byte span of part ``number`` (1-based) in the object."""
    if not 1 <= number <= len(parts):
        raise S3Error("InvalidPartNumber")
    start = sum(p.size for p in parts[: number - 1])
    return start, start + parts[number - 1].size - 1


@dataclass(frozen=True)
class PartRead:
    """What to read for a part: the range (None: the whole object), the parts count to report (None for
    an object not uploaded in parts) and the ETag of the object the boundaries belong to."""

    range: ByteRange | None
    count: int | None
    etag: str


async def locate(
    backend: Backend, bucket: str, key: str, number: int, etag: str, version: str | None = None
) -> PartRead:
    """The read for part ``number`` of the object whose current ETag is ``etag``."""
    count = parts_count(etag)
    if count is None:
        if number != 1:
            raise S3Error("InvalidPartNumber")
        return PartRead(None, None, etag)
    if number > count:
        raise S3Error("InvalidPartNumber")
    found = await backend.object_parts(bucket, key, version_id=version)
    if found is None:  # replaced meanwhile by an object not uploaded in parts
        raise S3Error("InvalidPartNumber")
    parts_etag, parts = found
    start, end = part_span(parts, number)
    return PartRead(ByteRange(start, end), len(parts), parts_etag)
