"""OSS's versioning in the contract's terms (pure): oss2's version listing → VersionsPage, version ids
as request parameters (OSS's delete-marker headers are read by backends.wire.markers).

oss2 parses a ListObjectVersions answer into two lists (versions, delete markers), losing the order
of the document; each key's entries are put back latest first, then newest first (a stable sort keeps
oss2's document order among equals, so versions of one second stay in OSS's order). Ids pass through.
"""

from __future__ import annotations

from typing import Any

from backends.base import ObjectInfo, ObjectMeta, VersionEntry, VersionsPage
from backends.oss.support import etag, from_unix


def version_params(version_id: str | None) -> dict[str, str] | None:
    return {"versionId": version_id} if version_id is not None else None


def versions_page(result: Any) -> VersionsPage:
    entries: list[VersionEntry] = []
    for v in result.versions:
        info = ObjectInfo(
            v.key, int(v.size or 0), etag(v.etag), from_unix(v.last_modified), ObjectMeta(), v.versionid
        )
        entries.append(VersionEntry(info, bool(v.is_latest)))
    for m in result.delete_marker:
        info = ObjectInfo(m.key, 0, "", from_unix(m.last_modified), ObjectMeta(), m.versionid, True)
        entries.append(VersionEntry(info, bool(m.is_latest)))
    entries.sort(key=lambda e: (e.info.key.encode(), not e.is_latest, -e.info.last_modified.timestamp()))
    truncated = bool(result.is_truncated)
    return VersionsPage(
        entries,
        list(result.common_prefix),
        truncated,
        (result.next_key_marker or None) if truncated else None,
        (result.next_versionid_marker or None) if truncated else None,
    )
