"""An object's part boundaries on an S3-compatible store, from its own GetObjectAttributes (ObjectParts).

S3 lists the parts of a multipart object (size, and checksums where the upload had them) in pages of up
to 1000; a store that answers ObjectParts with a count but no parts (or no ObjectParts for a multipart
ETag) cannot tell the boundaries, which the contract reports as NotImplementedByBackend.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from backends import errors as be
from backends.base import CHECKSUM_ALGORITHMS, ObjectPart
from backends.s3.requests import StoreRequests
from backends.wire.etag import strip_etag
from backends.wire.xml import child_text, children, local, parse_safe

PAGE = 1000
#: The answer's root as AWS documents it, and as some stores spell it.
ROOTS = ("GetObjectAttributesOutput", "GetObjectAttributesResponse")
#: A page of 1000 parts with every checksum is well under this.
MAX_ANSWER = 1024 * 1024


@dataclass
class PartsPage:
    etag: str
    parts: list[ObjectPart] | None  # None: no ObjectParts in the answer
    next_marker: int | None  # set when truncated


def parse_attributes(data: bytes) -> PartsPage:
    """A GetObjectAttributes answer asked for ETag and ObjectParts (pure)."""
    root = parse_safe(data)
    if local(root.tag) not in ROOTS:
        raise ValueError(f"a {local(root.tag)} document, not GetObjectAttributesOutput")
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

    async def _attributes_page(
        self, bucket: str, key: str, headers: dict[str, str], query: dict[str, str]
    ) -> PartsPage:
        """One GetObjectAttributes answer. A store without the operation may ignore ``?attributes`` and
        answer a plain GET (Ceph RGW 16 does): anything but an XML document is closed unread."""
        resp = await self._request(
            "GET", bucket, key, headers=headers, query_params=query, preload_content=False
        )
        try:
            kind = (resp.headers.get("content-type") or "").lower()
            if "xml" not in kind or resp.headers.get("content-range") or resp.status != 200:
                raise be.NotImplementedByBackend(
                    "The store does not answer GetObjectAttributes.", backend=self.name
                )
            data = resp.read(MAX_ANSWER + 1)
            if len(data) > MAX_ANSWER:
                raise be.NotImplementedByBackend(
                    "The store's GetObjectAttributes answer is too large.", backend=self.name
                )
            try:
                return parse_attributes(data)
            except (ValueError, etree.XMLSyntaxError) as exc:
                raise be.NotImplementedByBackend(
                    f"The store's GetObjectAttributes answer is unreadable: {exc}", backend=self.name
                ) from None
        finally:
            resp.close()
            resp.release_conn()

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
            page = await self._attributes_page(bucket, key, headers, query)
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
