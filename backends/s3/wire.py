"""The pure half of the S3 backend: headers, ranges and listing documents, with no I/O.

Kept apart from the client code so each translation between the contract's types and the S3 wire can be
tested exhaustively without a store. Listing documents are parsed here (not with minio's parsers)
because minio folds common prefixes into its object list and drops ``NextUploadIdMarker`` and the
common prefixes of ListMultipartUploads; the parser is lxml with entities, DTDs and network disabled.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from lxml import etree

from backends.base import CONTENT_HEADERS as BASE_CONTENT_HEADERS
from backends.base import (
    ByteRange,
    DeleteResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    UploadInfo,
    UploadsPage,
    VersionEntry,
    VersionsPage,
)
from backends.wire.etag import strip_etag
from backends.wire.metadata import decode_meta_value, encode_meta_value
from backends.wire.tagging import tagging_header
from backends.wire.xml import S3_NS, child_text, children, local, parse_safe

META_PREFIX = "x-amz-meta-"

#: ObjectMeta field → the HTTP header that carries it, both ways.
CONTENT_HEADERS = {**BASE_CONTENT_HEADERS, "storage_class": "x-amz-storage-class"}

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


# -- ranges ------------------------------------------------------------------------------------------
def encode_dot_segments(path: str) -> str:
    """``/b/a/./c`` → ``/b/a/%2E/c``: path segments that are exactly ``.`` or ``..`` percent-encoded, so no
    HTTP library normalises them away (S3 keys are not file paths)."""
    return "/".join("%2E" * len(s) if s in (".", "..") else s for s in path.split("/"))


def range_header(rng: ByteRange) -> str:
    """The Range header for a contract range; suffix and open-ended forms pass through unresolved.

    The store resolves them against the object's real size, so no HEAD is needed first.
    """
    if rng.first is None:
        return f"bytes=-{rng.last if rng.last is not None else 0}"
    if rng.last is None:
        return f"bytes={rng.first}-"
    return f"bytes={rng.first}-{rng.last}"


def parse_content_range(value: str | None) -> tuple[tuple[int, int] | None, int | None]:
    """(inclusive span, total size) from ``bytes a-b/N`` or the 416 form ``bytes */N``."""
    if not value:
        return None, None
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None, None
    first, last, total = match.groups()
    span = (int(first), int(last)) if first is not None else None
    return span, (int(total) if total != "*" else None)


# -- metadata ----------------------------------------------------------------------------------------
def meta_headers(meta: ObjectMeta) -> dict[str, str]:
    """Request headers that store ``meta`` on PUT, CreateMultipartUpload or CopyObject (REPLACE)."""
    headers: dict[str, str] = {}
    for attr, header in CONTENT_HEADERS.items():
        value = getattr(meta, attr)
        if value is not None:
            headers[header] = value
    for key, value in meta.user.items():
        headers[META_PREFIX + key.lower()] = encode_meta_value(value)
    if meta.tags:
        headers["x-amz-tagging"] = tagging_header(meta.tags.items())
    headers.update(lock_request_headers(meta))
    return headers


# -- object lock -------------------------------------------------------------------------------------
LOCK_MODE = "x-amz-object-lock-mode"
LOCK_UNTIL = "x-amz-object-lock-retain-until-date"
LEGAL_HOLD = "x-amz-object-lock-legal-hold"


def lock_request_headers(meta: ObjectMeta) -> dict[str, str]:
    """The Object Lock headers of a write (PUT, Copy, CreateMultipartUpload) for the meta's lock fields.
    A hold OFF is not sent: it asks for nothing, and some stores refuse the header outside lock buckets."""
    headers: dict[str, str] = {}
    if meta.lock_mode and meta.lock_retain_until:
        headers[LOCK_MODE] = meta.lock_mode
        headers[LOCK_UNTIL] = meta.lock_retain_until
    if meta.legal_hold:
        headers[LEGAL_HOLD] = "ON"
    return headers


def is_locking(meta: ObjectMeta) -> bool:
    """Whether a write of ``meta`` places a retention or a legal hold (S3 then wants an integrity check)."""
    return bool(lock_request_headers(meta))


def lock_date(value: str) -> str | None:
    """A store's retain-until date in the one form the gateway writes (ISO 8601, milliseconds, Z):
    stores spell it with or without fractions (moto echoes what it was sent)."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed.astimezone(dt.timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def _read_lock(meta: ObjectMeta, lowered: Mapping[str, str]) -> None:
    mode, until = lowered.get(LOCK_MODE), lowered.get(LOCK_UNTIL)
    if mode and until:
        meta.lock_mode, meta.lock_retain_until = mode.strip().upper(), lock_date(until)
        if meta.lock_retain_until is None:
            meta.lock_mode = None
    hold = lowered.get(LEGAL_HOLD)
    if hold is not None:
        meta.legal_hold = hold.strip().upper() == "ON"


def _http_date(value: str | None) -> dt.datetime:
    if not value:
        return _EPOCH
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return _EPOCH
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def meta_from_headers(headers: Mapping[str, str]) -> ObjectMeta:
    """Response headers (case-insensitive mapping) → ObjectMeta, user keys lowercased."""
    lowered = {k.lower(): v for k, v in headers.items()}
    meta = ObjectMeta()
    for attr, header in CONTENT_HEADERS.items():
        value = lowered.get(header.lower())
        if value is not None:
            setattr(meta, attr, value)
    meta.user = {
        k[len(META_PREFIX) :]: decode_meta_value(v) for k, v in lowered.items() if k.startswith(META_PREFIX)
    }
    count = lowered.get("x-amz-tagging-count", "0").strip()
    meta.tag_count = int(count) if count.isdigit() else 0
    _read_lock(meta, lowered)
    return meta


def info_from_headers(key: str, headers: Mapping[str, str]) -> ObjectInfo:
    """An object's info from a HEAD or GET answer; a ranged GET's size comes from Content-Range."""
    lowered = {k.lower(): v for k, v in headers.items()}
    _, total = parse_content_range(lowered.get("content-range"))
    size = total if total is not None else int(lowered.get("content-length") or 0)
    return ObjectInfo(
        key=key,
        size=size,
        etag=strip_etag(lowered.get("etag")),
        last_modified=_http_date(lowered.get("last-modified")),
        meta=meta_from_headers(lowered),
    )


# -- XML documents -----------------------------------------------------------------------------------
def _iso(value: str | None) -> dt.datetime:
    if not value:
        return _EPOCH
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def _decoder(root: etree._Element):  # type: ignore[no-untyped-def]
    """Names in a listing are URL-encoded when the store echoes ``EncodingType`` url."""
    if (child_text(root, "EncodingType") or "").lower() == "url":
        return unquote_plus
    return lambda s: s


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def parse_list_objects(data: bytes) -> ListPage:
    """One ListObjectsV2 (or v1) page; ``next_marker`` is the last name listed, as the contract wants."""
    root = parse_safe(data)
    decode = _decoder(root)
    objects = [
        ObjectInfo(
            key=decode(child_text(c, "Key") or ""),
            size=int(child_text(c, "Size") or 0),
            etag=strip_etag(child_text(c, "ETag")),
            last_modified=_iso(child_text(c, "LastModified")),
            meta=ObjectMeta(storage_class=child_text(c, "StorageClass")),
        )
        for c in children(root, "Contents")
    ]
    prefixes = [decode(child_text(p, "Prefix") or "") for p in children(root, "CommonPrefixes")]
    truncated = _true(child_text(root, "IsTruncated"))
    names = [o.key for o in objects] + prefixes
    next_marker = max(names) if truncated and names else None
    return ListPage(
        objects=objects, common_prefixes=prefixes, is_truncated=truncated, next_marker=next_marker
    )


def parse_list_uploads(data: bytes) -> UploadsPage:
    root = parse_safe(data)
    decode = _decoder(root)
    uploads = [
        UploadInfo(
            key=decode(child_text(u, "Key") or ""),
            upload_id=child_text(u, "UploadId") or "",
            initiated=_iso(child_text(u, "Initiated")),
        )
        for u in children(root, "Upload")
    ]
    prefixes = [decode(child_text(p, "Prefix") or "") for p in children(root, "CommonPrefixes")]
    truncated = _true(child_text(root, "IsTruncated"))
    next_key = child_text(root, "NextKeyMarker")
    next_id = child_text(root, "NextUploadIdMarker")
    if truncated and uploads and not next_key:
        next_key, next_id = uploads[-1].key, uploads[-1].upload_id
    return UploadsPage(
        uploads=uploads,
        common_prefixes=prefixes,
        is_truncated=truncated,
        next_key_marker=decode(next_key) if truncated and next_key else None,
        next_upload_id_marker=next_id if truncated else None,
    )


def listing_query(
    sub: str, prefix: str, delimiter: str, limit: tuple[str, int], markers: dict[str, str]
) -> dict[str, str]:
    """The query of a sub-resource listing (``versions``, ``uploads``): names URL-encoded in the answer,
    the markers that are set."""
    query = {
        sub: "",
        "prefix": prefix,
        "delimiter": delimiter,
        limit[0]: str(limit[1]),
        "encoding-type": "url",
    }
    query.update((name, value) for name, value in markers.items() if value)
    return query


def parse_list_versions(data: bytes) -> VersionsPage:
    """One ListObjectVersions page: Version and DeleteMarker entries in document order (per key newest
    first, as the store lists them), ids passed through unchanged."""
    root = parse_safe(data)
    decode = _decoder(root)
    entries: list[VersionEntry] = []
    for el in root:
        kind = local(el.tag)
        if kind not in ("Version", "DeleteMarker"):
            continue
        marker = kind == "DeleteMarker"
        info = ObjectInfo(
            key=decode(child_text(el, "Key") or ""),
            size=0 if marker else int(child_text(el, "Size") or 0),
            etag="" if marker else strip_etag(child_text(el, "ETag")),
            last_modified=_iso(child_text(el, "LastModified")),
            meta=ObjectMeta(storage_class=None if marker else child_text(el, "StorageClass")),
            version_id=child_text(el, "VersionId") or "null",
            delete_marker=marker,
        )
        entries.append(VersionEntry(info, _true(child_text(el, "IsLatest"))))
    # Some stores (moto) list all Versions before all DeleteMarkers: put each key's entries back in
    # order, latest first, then newest first (a stable sort keeps the store's order among equals).
    entries.sort(key=lambda e: (e.info.key.encode(), not e.is_latest, -e.info.last_modified.timestamp()))
    prefixes = [decode(child_text(p, "Prefix") or "") for p in children(root, "CommonPrefixes")]
    truncated = _true(child_text(root, "IsTruncated"))
    next_key = child_text(root, "NextKeyMarker")
    return VersionsPage(
        versions=entries,
        common_prefixes=prefixes,
        is_truncated=truncated,
        next_key_marker=decode(next_key) if truncated and next_key else None,
        next_version_id_marker=(child_text(root, "NextVersionIdMarker") or None) if truncated else None,
    )


def delete_result(headers: Mapping[str, str]) -> DeleteResult:
    """What a DeleteObject answer says it did: the version it made or removed, and whether a marker."""
    return DeleteResult(headers.get("x-amz-version-id"), headers.get("x-amz-delete-marker", "") == "true")


def versioning_body(status: str) -> bytes:
    """The VersioningConfiguration document of PutBucketVersioning."""
    root = etree.Element(f"{{{S3_NS}}}VersioningConfiguration", nsmap={None: S3_NS})  # type: ignore[dict-item]
    etree.SubElement(root, f"{{{S3_NS}}}Status").text = status
    return etree.tostring(root, xml_declaration=False, encoding="utf-8")


def parse_copy_result(data: bytes) -> tuple[str, dt.datetime]:
    """(etag, last modified) of CopyObjectResult / CopyPartResult; an <Error> root raises ValueError."""
    root = parse_safe(data)
    if local(root.tag) == "Error":
        raise ValueError(child_text(root, "Code") or "Error")
    return strip_etag(child_text(root, "ETag")), _iso(child_text(root, "LastModified"))


def parse_error(data: bytes) -> tuple[str | None, str | None]:
    """(Code, Message) of an S3 <Error> document, or (None, None) when it is something else."""
    try:
        root = parse_safe(data)
    except etree.XMLSyntaxError:
        return None, None
    if local(root.tag) != "Error":
        return None, None
    return child_text(root, "Code"), child_text(root, "Message")


def text_of(data: bytes, name: str) -> str | None:
    """A direct child's text of a small answer document (UploadId of InitiateMultipartUploadResult)."""
    return child_text(parse_safe(data), name)


def location_body(region: str | None) -> bytes | None:
    """CreateBucketConfiguration for a region other than us-east-1 (which takes no body)."""
    if not region or region == "us-east-1":
        return None
    root = etree.Element(f"{{{S3_NS}}}CreateBucketConfiguration", nsmap={None: S3_NS})  # type: ignore[dict-item]
    etree.SubElement(root, f"{{{S3_NS}}}LocationConstraint").text = region
    return etree.tostring(root, xml_declaration=False, encoding="utf-8")


# -- versions ----------------------------------------------------------------------------------------
def version_query(version_id: str | None) -> dict[str, str] | None:
    return {"versionId": version_id} if version_id is not None else None


def with_version(info: ObjectInfo, headers: Any) -> ObjectInfo:
    """The store's version id, passed through unchanged (absent in a bucket never versioned)."""
    info.version_id = headers.get("x-amz-version-id")
    return info


def named_version(headers: Any) -> str | None:
    """The version a write made, to read it back by id: not ``null`` (the current object is the null
    version then, and some stores refuse ``versionId=null`` in a bucket never versioned)."""
    version = headers.get("x-amz-version-id")
    return None if version in (None, "", "null") else version
