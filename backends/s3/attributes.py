"""An object's part boundaries on an S3-compatible store, from its own GetObjectAttributes (ObjectParts).

S3 lists the parts of a multipart object (size, and checksums where the upload had them) in pages of up
to 1000; a store that answers ObjectParts with a count but no parts (or no ObjectParts for a multipart
ETag) cannot tell the boundaries, which the contract reports as NotImplementedByBackend.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends import errors as be
from backends.base import CHECKSUM_ALGORITHMS, ObjectPart
from backends.s3.requests import StoreRequests
from backends.wire.etag import strip_etag
from backends.wire.xml import child_text, children, parse_safe

PAGE = 1000


@dataclass
class PartsPage:
    etag: str
    parts: list[ObjectPart] | None  # None: no ObjectParts in the answer
    next_marker: int | None  # set when truncated


def parse_attributes(data: bytes) -> PartsPage:
    """A GetObjectAttributes answer asked for ETag and ObjectParts (pure)."""
    root = parse_safe(data)
    etag = strip_etag(child_text(root, "ETag"))
    holders = children(root, "ObjectParts")
    if not holders:
        return PartsPage(etag, None, None)
    holder = holders[0]
    parts = []
    for el in children(holder, "Part"):
        sums = {
            alg: value for alg in CHECKSUM_ALGORITHMS if (value := child_text(el, "Checksum" + alg.upper()))
        }
        parts.append(
            ObjectPart(int(child_text(el, "PartNumber") or 0), int(child_text(el, "Size") or 0), sums)
        )
    truncated = (child_text(holder, "IsTruncated") or "").strip().lower() == "true"
    next_marker = child_text(holder, "NextPartNumberMarker")
    return PartsPage(etag, parts, int(next_marker) if truncated and next_marker else None)


class S3Attributes(StoreRequests):
    """A mixin for S3Backend: ``object_parts`` over its ``_request``."""

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        query = {"attributes": ""}
        if version_id is not None:
            query["versionId"] = version_id
        found: list[ObjectPart] = []
        marker = 0
        while True:
            headers = {"x-amz-object-attributes": "ETag,ObjectParts", "x-amz-max-parts": str(PAGE)}
            if marker:
                headers["x-amz-part-number-marker"] = str(marker)
            resp = await self._request("GET", bucket, key, headers=headers, query_params=query)
            page = parse_attributes(resp.data)
            if page.parts is None or (not page.parts and not found):
                if "-" not in page.etag:
                    return None
                raise be.NotImplementedByBackend(
                    "The store does not list this object's parts.", backend=self.name
                )
            found += page.parts
            if page.next_marker is None:
                return page.etag, found
            marker = page.next_marker
