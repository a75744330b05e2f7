"""OSS's versioning operations for the emulator, per the OSS API reference: PutBucketVersioning,
GetBucketVersioning and ListObjectVersions (GetBucketVersions), namespace-less XML, ``x-oss-version-id``
and ``x-oss-delete-marker`` headers. The versions themselves are the store's (tests.emulators.versioning).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.emulators import versioning as vers
from tests.emulators.core import EmulatorError, Request, Response, element, iso8601, parse_xml, to_xml
from tests.emulators.store import ObjectRecord, Store

PREFIX = "x-oss-"
_ID = re.compile(r"[0-9A-F]{16,40}")


def version_param(req: Request) -> str | None:
    """The ``versionId`` a request names; a malformed one is OSS's InvalidArgument."""
    value = req.param("versionId")
    if value is None:
        return None
    if value != vers.NULL and not _ID.fullmatch(value):
        raise EmulatorError(400, "InvalidArgument", "Invalid version id specified", ArgumentName="versionId")
    return value


def version_headers(store: Store, bucket: str, rec: ObjectRecord) -> list[tuple[str, str]]:
    """``x-oss-version-id`` once the bucket has a versioning status (``null`` while suspended)."""
    b = store.require_bucket(bucket)
    return [] if vers.status(b.extra) is None else [("x-oss-version-id", vers.version_of(rec))]


def put_versioning(store: Store, req: Request, bucket: str) -> Response:
    root = parse_xml(req.body())
    if root.tag != "VersioningConfiguration":
        raise EmulatorError(400, "MalformedXML", "The root element must be VersioningConfiguration.")
    store.set_versioning(bucket, root.findtext("Status"))
    return Response(200)


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
    entries = [e for e in store.versions(bucket) if e[0].startswith(prefix)]
    if key_marker:
        entries = _after(entries, key_marker, id_marker)
    listed: list[tuple[str, ObjectRecord, bool]] = []
    prefixes: list[str] = []
    truncated = False
    for key, rec, latest in entries:
        rolled = _rollup(key, prefix, delimiter)
        if rolled is not None and (rolled in prefixes or rolled <= key_marker):
            continue
        if len(listed) + len(prefixes) == max_keys:
            truncated = True
            break
        if rolled is not None:
            prefixes.append(rolled)
        else:
            listed.append((key, rec, latest))
    last_key, last_id = None, None
    if truncated:
        last_is_prefix = prefixes and (not listed or prefixes[-1] > listed[-1][0])
        if last_is_prefix:
            last_key, last_id = prefixes[-1], ""
        else:
            last_key, last_id = listed[-1][0], vers.version_of(listed[-1][1])
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
        element("IsTruncated", "true" if truncated else "false"),
        element("NextKeyMarker", enc(last_key)) if last_key is not None else None,
        element("NextVersionIdMarker", last_id) if last_key is not None else None,
        *[_entry(key, rec, latest, enc) for key, rec, latest in listed],
        *[element("CommonPrefixes", None, element("Prefix", enc(p))) for p in prefixes],
    )
    return Response(200, [("Content-Type", "application/xml")], to_xml(root))


def _after(
    entries: list[tuple[str, ObjectRecord, bool]], key_marker: str, id_marker: str
) -> list[tuple[str, ObjectRecord, bool]]:
    """The entries after (key marker, version id marker); without an id, after every version of the key."""
    out: list[tuple[str, ObjectRecord, bool]] = []
    passed = False
    for key, rec, latest in entries:
        if key < key_marker or (key == key_marker and not id_marker):
            continue
        if key == key_marker and not passed:
            passed = vers.version_of(rec) == id_marker
            continue
        out.append((key, rec, latest))
    return out


def _rollup(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return key[: cut + len(delimiter)] if cut >= 0 else None


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
