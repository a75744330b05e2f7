"""OBS's versioning for the emulator, per Huawei's API reference: PUT/GET ``/?versioning``
(VersioningConfiguration with Status Enabled or Suspended; no Status before versioning was ever set),
``GET /?versions`` (ListVersionsResult in OBS's namespace, Version and DeleteMarker entries), the
``versionId`` parameter of GET, HEAD and DELETE (32 characters, or ``null``), ``x-obs-version-id`` and
``x-obs-delete-marker`` headers. The versions themselves are the shared store's (tests.emulators.versioning).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.emulators import versioning as vers
from tests.emulators.core import EmulatorError, Request, Response, element, iso8601
from tests.emulators.store import ObjectRecord, Store

#: OBS's version ids are 32 characters long.
DIALECT = vers.Dialect("x-obs-", re.compile(r"[0-9A-Za-z]{32}"))
#: query parameters ListVersions takes (beyond ``versions`` itself)
LIST_PARAMS = {
    "versions",
    "prefix",
    "key-marker",
    "version-id-marker",
    "max-keys",
    "delimiter",
    "encoding-type",
}


def get_versioning(store: Store, bucket: str, respond: Callable[..., Response]) -> Response:
    status = vers.status(store.require_bucket(bucket).extra)
    return respond("VersioningConfiguration", element("Status", status) if status else None)


def list_versions(
    store: Store,
    req: Request,
    bucket: str,
    enc: Callable[[str], str],
    url: bool,
    owner: str,
    respond: Callable[..., Response],
) -> Response:
    prefix = req.param("prefix") or ""
    delimiter = req.param("delimiter") or ""
    key_marker = req.param("key-marker") or ""
    id_marker = req.param("version-id-marker") or ""
    max_keys = _max_keys(req.param("max-keys"))
    found = vers.page(store.versions(bucket), prefix, delimiter, key_marker, id_marker, max_keys)
    fields = [
        element("Name", bucket),
        element("Prefix", enc(prefix)),
        element("KeyMarker", enc(key_marker)),
        element("VersionIdMarker", id_marker),
        element("NextKeyMarker", enc(found.next_key)) if found.next_key is not None else None,
        element("NextVersionIdMarker", found.next_id) if found.next_key is not None else None,
        element("MaxKeys", max_keys),
        element("Delimiter", enc(delimiter)) if delimiter else None,
        element("IsTruncated", "true" if found.truncated else "false"),
        element("EncodingType", "url") if url else None,
    ]
    fields += [_entry(key, rec, latest, enc, owner) for key, rec, latest in found.listed]
    fields += [element("CommonPrefixes", None, element("Prefix", enc(p))) for p in found.prefixes]
    return respond("ListVersionsResult", *fields)


def _max_keys(value: str | None) -> int:
    """OBS: 1 to 1000; any other number lists 1000 (a value that is no number is refused)."""
    if value is None or value == "":
        return 1000
    if not value.isdigit():
        raise EmulatorError(400, "InvalidArgument", "max-keys must be an integer.")
    return int(value) if 1 <= int(value) <= 1000 else 1000


def _entry(key: str, rec: ObjectRecord, latest: bool, enc: Callable[[str], str], owner: str) -> object:
    common = (
        element("Key", enc(key)),
        element("VersionId", vers.version_of(rec)),
        element("IsLatest", "true" if latest else "false"),
        element("LastModified", iso8601(rec.last_modified)),
    )
    owner_element = element("Owner", None, element("ID", owner))
    if vers.is_marker(rec):
        return element("DeleteMarker", None, *common, owner_element)
    return element(
        "Version",
        None,
        *common,
        element("ETag", f'"{rec.etag}"'),
        element("Size", rec.size),
        owner_element,
        element("StorageClass", "STANDARD"),
    )
