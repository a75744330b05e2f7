"""The part layout of an fs multipart object, kept in its record at CompleteMultipartUpload.

S3 remembers which parts an object was completed from (GetObject with ``partNumber``, GetObjectAttributes'
ObjectParts); the fs object file is one run of bytes, so its record carries the parts' sizes and
checksums under ``parts``: ``[[size, {alg: b64}], ...]`` in part order, compact because a record is read
on every HEAD. Objects written before this field existed, or by a copy, have none: they answer as S3
answers for an object not uploaded in parts when their ETag has no ``-N`` suffix, and the backend says it
cannot tell otherwise.
"""

from __future__ import annotations

from typing import Any

from backends import errors as be
from backends.base import ObjectPart
from backends.fs.format import Record

PARTS_FIELD = "parts"


def part_layout(chosen: list[tuple[str, Record]]) -> list[list[Any]]:
    """The ``parts`` field for an object assembled from ``chosen`` (path, part record) in order."""
    return [[record.size, dict(record.meta.get("checksums") or {})] for _, record in chosen]


def parts_of(record: Record) -> tuple[str, list[ObjectPart]] | None:
    """(ETag, parts) of a multipart object's record; None for an object not uploaded in parts."""
    layout = record.meta.get(PARTS_FIELD)
    if layout is None:
        if "-" in record.etag:  # a multipart ETag without a layout: copied, or from an older version
            raise be.NotImplementedByBackend("This object's part boundaries were not recorded.")
        return None
    return record.etag, [
        ObjectPart(number, int(size), dict(sums)) for number, (size, sums) in enumerate(layout, start=1)
    ]
