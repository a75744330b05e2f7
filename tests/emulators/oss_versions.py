"""OSS's versioning operations for the emulator, per the OSS API reference: PutBucketVersioning,
GetBucketVersioning and ListObjectVersions (GetBucketVersions), namespace-less XML, ``x-oss-version-id``
and ``x-oss-delete-marker`` headers. The versions themselves are the store's (tests.emulators.versioning).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.emulators import versioning as vers
from tests.emulators.core import Request, Response, element, iso8601, to_xml
from tests.emulators.store import ObjectRecord, Store

DIALECT = vers.Dialect("x-oss-", re.compile(r"[0-9A-F]{16,40}"))


def get_versioning(store: Store, req: Request, bucket: str) -> Response:
    status = vers.status(store.require_bucket(bucket).extra)
    root = element("VersioningConfiguration", None, element("Status", status) if status else None)
    return Response(200, [("Content-Type", "application/xml")], to_xml(root))


def list_versions(store: Store, req: Request, bucket: str, max_keys: int) -> Response:
    encoding = req.param("encoding-type")
    enc = (lambda s: quote(s, safe="")) if encoding == "url" else (lambda s: s)
    prefix = req.param("prefix") or ""
    delimiter = req.param("delimiter") or ""
    key_marker = req.param("key-marker") or ""
    id_marker = req.param("version-id-marker") or ""
    found = vers.page(store.versions(bucket), prefix, delimiter, key_marker, id_marker, max_keys)
    root = element(
        "ListVersionsResult",
        None,
        element("Name", bucket),
        element("Prefix", enc(prefix)),
        element("KeyMarker", enc(key_marker)),
        element("VersionIdMarker", id_marker),
        element("MaxKeys", max_keys),
        element("Delimiter", enc(delimiter)),
        element("EncodingType", "url") if encoding == "url" else None,
        element("IsTruncated", "true" if found.truncated else "false"),
        element("NextKeyMarker", enc(found.next_key)) if found.next_key is not None else None,
        element("NextVersionIdMarker", found.next_id) if found.next_key is not None else None,
        *[_entry(key, rec, latest, enc) for key, rec, latest in found.listed],
        *[element("CommonPrefixes", None, element("Prefix", enc(p))) for p in found.prefixes],
    )
    return Response(200, [("Content-Type", "application/xml")], to_xml(root))


def _entry(key: str, rec: ObjectRecord, latest: bool, enc) -> object:  # type: ignore[no-untyped-def]
    owner = element("Owner", None, element("ID", "emulator"), element("DisplayName", "emulator"))
    common = (
        element("Key", enc(key)),
        element("VersionId", vers.version_of(rec)),
        element("IsLatest", "true" if latest else "false"),
        element("LastModified", iso8601(int(rec.last_modified))),  # OSS: a literal .000Z
    )
    if vers.is_marker(rec):
        return element("DeleteMarker", None, *common, owner)
    return element(
        "Version",
        None,
        *common,
        element("ETag", f'"{rec.etag.upper()}"'),
        element("Type", rec.extra.get("type", "Normal")),
        element("Size", rec.size),
        element("StorageClass", "Standard"),
        owner,
    )
