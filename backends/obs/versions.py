"""OBS's own versioning, passed through (mixed into ``obs.ObsBackend``): Set/GetBucketVersioning and
ListVersions; the reads, deletes and copies of ``ops`` carry the ``versionId`` themselves.

Version ids are OBS's, unchanged. The SDK parses a version listing into two lists (versions, delete
markers), losing the document's order; each key's entries are put back latest first, then newest first
(a stable sort keeps the document's order among entries of the same second).
"""

from __future__ import annotations

from typing import Any

from obs import Versions

from backends import errors as be
from backends.base import VERSIONING_STATES, ObjectInfo, ObjectMeta, VersionEntry, VersionsPage
from backends.obs import wire
from backends.obs.multipart import ObsMultipart
from backends.wire.etag import strip_etag


class ObsVersioning(ObsMultipart):
    async def get_bucket_versioning(self, bucket: str) -> str | None:
        result = await self._ok("getBucketVersioning", bucket, not_found=be.NoSuchBucket)
        return result.body or None

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        if status not in VERSIONING_STATES:
            raise be.InvalidArgument(f"Unknown versioning status {status!r}.", backend=self.name)
        await self._ok("setBucketVersioning", bucket, status, not_found=be.NoSuchBucket)

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        if max_keys <= 0:  # OBS would list 1000 for it
            await self.head_bucket(bucket)
            return VersionsPage([], [], False)
        request = Versions(
            prefix=prefix or None,
            key_marker=key_marker or None,
            max_keys=max_keys,
            delimiter=delimiter or None,
            version_id_marker=version_id_marker or None,
            encoding_type="url",
        )
        result = await self._ok("listVersions", bucket, request, not_found=be.NoSuchBucket)
        return versions_page(result.body)


def versions_page(body: Any) -> VersionsPage:
    """The contract's page from the SDK's ``ObjectVersions``."""
    entries: list[VersionEntry] = []
    for v in body.versions or []:
        when = wire.sdk_date(v.lastModified)
        info = ObjectInfo(v.key, int(v.size or 0), strip_etag(v.etag), when, ObjectMeta(), v.versionId)
        entries.append(VersionEntry(info, bool(v.isLatest)))
    for m in body.markers or []:
        info = ObjectInfo(m.key, 0, "", wire.sdk_date(m.lastModified), ObjectMeta(), m.versionId, True)
        entries.append(VersionEntry(info, bool(m.isLatest)))
    entries.sort(key=lambda e: (e.info.key.encode(), not e.is_latest, -e.info.last_modified.timestamp()))
    head = body.head
    truncated = bool(head.isTruncated)
    return VersionsPage(
        entries,
        [p.prefix for p in body.commonPrefixs or []],
        truncated,
        (head.nextKeyMarker or None) if truncated else None,
        (head.nextVersionIdMarker or None) if truncated else None,
    )
