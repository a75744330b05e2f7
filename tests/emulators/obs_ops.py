"""The operations of the OBS emulator: OBS header names and XML shapes over the shared core store."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from urllib.parse import quote, unquote

from tests.emulators import obs_tagging, obs_versions
from tests.emulators import versioning as vers
from tests.emulators.core import (
    EmulatorError,
    RangeNotSatisfiable,
    Request,
    Response,
    check_conditions,
    element,
    http_date,
    iso8601,
    parse_range,
    parse_xml,
    to_xml,
)
from tests.emulators.store import ObjectRecord, PartRecord, Store, UploadRecord
from tests.emulators.tagging import TagDialect, TaggingOps

NAMESPACE = "http://obs.myhwclouds.com/doc/2015-06-30/"
OWNER_ID = "0000000000000000emulatorowner0000"
#: OBS's smallest part (all but the last), as its API reference states: 100 KB.
MIN_PART_SIZE = 100 * 1024
MAX_PART_NUMBER = 10000

CONTENT_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)
#: x-obs-* request headers this emulator understands; any other one is refused rather than ignored.
KNOWN_OBS_HEADERS = frozenset(
    {
        "x-obs-date",
        "x-obs-security-token",
        "x-obs-copy-source",
        "x-obs-copy-source-range",
        "x-obs-metadata-directive",
        "x-obs-storage-class",
        "x-obs-tagging",
        "x-obs-tagging-directive",
    }
)
#: query parameters each operation accepts (beyond its own sub-resource)
LIST_PARAMS = {"prefix", "marker", "max-keys", "delimiter", "encoding-type"}
UPLOADS_PARAMS = {
    "uploads",
    "prefix",
    "delimiter",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "encoding-type",
}
PARTS_PARAMS = {"uploadId", "max-parts", "part-number-marker", "encoding-type"}


#: OBS's tags: its header names and rules, its namespace, and its version ids on the tagging calls.
TAGS = TagDialect("x-obs-", obs_tagging.RULES.check, NAMESPACE, obs_versions.DIALECT)


def xml_response(root_tag: str, *children: object, status: int = 200) -> Response:
    root = element(root_tag, None, *children)  # type: ignore[arg-type]
    return Response(status, [("Content-Type", "application/xml")], to_xml(root, NAMESPACE))


def quoted(etag: str) -> str:
    return f'"{etag}"'


def _int_param(req: Request, name: str, default: int, low: int, high: int) -> int:
    value = req.param(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise EmulatorError(400, "InvalidArgument", f"{name} must be an integer between {low} and {high}.")
    return int(value)


def check_request(req: Request, allowed_params: Iterable[str]) -> None:
    """Refuse parameters and x-obs-/x-amz- headers that this emulator does not implement."""
    allowed = set(allowed_params)
    for name, _ in req.query:
        if name not in allowed:
            raise EmulatorError(501, "NotImplemented", f"The query parameter {name!r} is not implemented.")
    for name in req.headers.keys():
        lower = name.lower()
        if lower.startswith("x-amz-"):
            raise EmulatorError(400, "InvalidArgument", f"{name} is an S3 header; OBS requests use x-obs-*.")
        if (
            lower.startswith("x-obs-")
            and not lower.startswith("x-obs-meta-")
            and lower not in KNOWN_OBS_HEADERS
        ):
            raise EmulatorError(501, "NotImplemented", f"The header {name!r} is not implemented.")
    storage = req.headers.get("x-obs-storage-class")
    if storage not in (None, "STANDARD"):
        raise EmulatorError(501, "NotImplemented", "Only the STANDARD storage class is emulated.")


def stored_headers(req: Request) -> dict[str, str]:
    """Content headers and user metadata as sent (the store keeps values verbatim)."""
    out: dict[str, str] = {}
    for name in CONTENT_HEADERS:
        value = req.headers.get(name)
        if value is not None:
            out[name] = value
    for name, value in req.headers.items():
        if name.lower().startswith("x-obs-meta-"):
            out[name.lower()] = value
    out.setdefault("Content-Type", "binary/octet-stream")
    return out


def require_length(req: Request) -> int:
    if req.chunked or req.content_length is None:
        raise EmulatorError(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
    return req.content_length


def object_headers(rec: ObjectRecord) -> list[tuple[str, str]]:
    headers = list(rec.headers.items())
    headers += [("ETag", quoted(rec.etag)), ("Last-Modified", http_date(rec.last_modified))]
    headers.append(("Accept-Ranges", "bytes"))
    return headers + TAGS.count_header(rec.tags)


def copy_source(req: Request) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of ``x-obs-copy-source: /bucket/key[?versionId=id]``."""
    raw_path, _, query = req.headers.get("x-obs-copy-source", "").partition("?")
    bucket, sep, key = unquote(raw_path).lstrip("/").partition("/")
    if not sep or not bucket or not key or (query and not query.startswith("versionId=")):
        raise EmulatorError(400, "InvalidArgument", "x-obs-copy-source must be /bucket/key[?versionId=id].")
    return bucket, key, (unquote(query[len("versionId=") :]) if query else None)


def encoder(req: Request) -> tuple[bool, Callable[[str], str]]:
    """With ``encoding-type=url`` names go out percent-encoded (XML 1.0 cannot carry every key)."""
    url = req.param("encoding-type") == "url"
    if req.param("encoding-type") not in (None, "url"):
        raise EmulatorError(400, "InvalidArgument", "encoding-type must be url.")
    return url, (lambda s: quote(s, safe="/")) if url else (lambda s: s)


class Operations:
    def __init__(self, store: Store):
        self.store = store
        self.tagging = TaggingOps(store, TAGS)

    # -- service and buckets ------------------------------------------------------------------------
    def list_buckets(self, req: Request) -> Response:
        check_request(req, ())
        buckets = [
            element("Bucket", None, element("Name", b.name), element("CreationDate", iso8601(b.created)))
            for b in self.store.buckets()
        ]
        owner = element("Owner", None, element("ID", OWNER_ID))
        return xml_response("ListAllMyBucketsResult", owner, element("Buckets", None, *buckets))

    def create_bucket(self, req: Request, bucket: str) -> Response:
        check_request(req, ())
        body = list(req.body())
        if b"".join(body).strip():
            root = parse_xml(body)
            if root.tag != "CreateBucketConfiguration":
                raise EmulatorError(400, "MalformedXML", "Expected CreateBucketConfiguration.")
        if self.store.bucket(bucket) is None:  # the owner re-creating its bucket succeeds on OBS
            try:
                self.store.create_bucket(bucket)
            except EmulatorError as err:
                if err.code != "BucketAlreadyExists":
                    raise
        return Response(200, [("Location", f"/{bucket}")])

    def head_bucket(self, req: Request, bucket: str) -> Response:
        check_request(req, ())
        self.store.require_bucket(bucket)
        return Response(200)

    def delete_bucket(self, req: Request, bucket: str) -> Response:
        check_request(req, ())
        self.store.delete_bucket(bucket)
        return Response(204)

    def list_objects(self, req: Request, bucket: str) -> Response:
        check_request(req, LIST_PARAMS)
        url, enc = encoder(req)
        prefix, delimiter = req.param("prefix") or "", req.param("delimiter") or ""
        marker = req.param("marker") or ""
        max_keys = _int_param(req, "max-keys", 1000, 0, 1000)
        entries, truncated, next_marker = self.store.list_objects(bucket, prefix, delimiter, marker, max_keys)
        fields = [
            element("Name", bucket),
            element("Prefix", enc(prefix)),
            element("Marker", enc(marker)),
            element("MaxKeys", max_keys),
            element("Delimiter", enc(delimiter)) if delimiter else None,
            element("IsTruncated", "true" if truncated else "false"),
            element("NextMarker", enc(next_marker)) if truncated and delimiter and next_marker else None,
            element("EncodingType", "url") if url else None,
        ]
        for entry in entries:
            if isinstance(entry, str):
                fields.append(element("CommonPrefixes", None, element("Prefix", enc(entry))))
            else:
                fields.append(
                    element(
                        "Contents",
                        None,
                        element("Key", enc(entry.key)),
                        element("LastModified", iso8601(entry.last_modified)),
                        element("ETag", quoted(entry.etag)),
                        element("Size", entry.size),
                        element("Owner", None, element("ID", OWNER_ID)),
                        element("StorageClass", "STANDARD"),
                    )
                )
        return xml_response("ListBucketResult", *fields)

    def list_uploads(self, req: Request, bucket: str) -> Response:
        check_request(req, UPLOADS_PARAMS)
        url, enc = encoder(req)
        prefix, delimiter = req.param("prefix") or "", req.param("delimiter") or ""
        key_marker, id_marker = req.param("key-marker") or "", req.param("upload-id-marker") or ""
        max_uploads = _int_param(req, "max-uploads", 1000, 1, 1000)
        entries, truncated = self.store.list_uploads(
            bucket, prefix, delimiter, key_marker, id_marker, max_uploads
        )
        uploads = [e for e in entries if isinstance(e, UploadRecord)]
        last = uploads[-1] if uploads else None
        fields = [
            element("Bucket", bucket),
            element("KeyMarker", enc(key_marker)),
            element("UploadIdMarker", id_marker),
            element("NextKeyMarker", enc(last.key)) if truncated and last else None,
            element("NextUploadIdMarker", last.upload_id) if truncated and last else None,
            element("Prefix", enc(prefix)),
            element("Delimiter", enc(delimiter)) if delimiter else None,
            element("MaxUploads", max_uploads),
            element("IsTruncated", "true" if truncated else "false"),
            element("EncodingType", "url") if url else None,
        ]
        for entry in entries:
            if isinstance(entry, str):
                fields.append(element("CommonPrefixes", None, element("Prefix", enc(entry))))
            else:
                fields.append(
                    element(
                        "Upload",
                        None,
                        element("Key", enc(entry.key)),
                        element("UploadId", entry.upload_id),
                        element("Initiator", None, element("ID", OWNER_ID)),
                        element("Owner", None, element("ID", OWNER_ID)),
                        element("StorageClass", "STANDARD"),
                        element("Initiated", iso8601(entry.initiated)),
                    )
                )
        return xml_response("ListMultipartUploadsResult", *fields)

    # -- objects ------------------------------------------------------------------------------------
    def put_object(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, ())
        length = require_length(req)
        self.store.require_bucket(bucket)
        blob = self.store.write_blob(req.body(), expected_size=length)
        try:
            rec = self.store.put_object(bucket, key, blob, stored_headers(req), tags=TAGS.from_header(req))
        except BaseException:
            blob.discard()
            raise
        return Response(200, [("ETag", quoted(rec.etag)), *self._version(bucket, rec)])

    def _version(self, bucket: str, rec: ObjectRecord) -> list[tuple[str, str]]:
        return obs_versions.DIALECT.headers(self.store, bucket, rec)

    def copy_object(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, ())
        src_bucket, src_key, src_version = copy_source(req)
        directive = req.headers.get("x-obs-metadata-directive", "COPY")
        if directive not in ("COPY", "REPLACE"):
            raise EmulatorError(400, "InvalidArgument", "x-obs-metadata-directive must be COPY or REPLACE.")
        if (src_bucket, src_key, src_version) == (bucket, key, None) and directive == "COPY":
            raise EmulatorError(400, "InvalidRequest", "A copy onto itself must replace the metadata.")
        headers = stored_headers(req) if directive == "REPLACE" else None
        tags = (TAGS.from_header(req) or {}) if TAGS.copy_directive(req) == "replace" else None
        src = self.store.get_version(src_bucket, src_key, src_version, obs_versions.DIALECT.prefix)
        rec = self.store.copy_object(
            src_bucket,
            src_key,
            bucket,
            key,
            headers,
            tags=tags,
            src_version=src_version,
            header_prefix=obs_versions.DIALECT.prefix,
        )
        response = xml_response(
            "CopyObjectResult",
            element("LastModified", iso8601(rec.last_modified)),
            element("ETag", quoted(rec.etag)),
        )
        response.headers += self._version(bucket, rec)
        if src_version is not None or src.extra.get("version_id") is not None:
            response.headers.append(("x-obs-copy-source-version-id", vers.version_of(src)))
        return response

    def get_object(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"versionId"})
        rec = self.store.get_version(
            bucket, key, obs_versions.DIALECT.param(req), obs_versions.DIALECT.prefix
        )
        headers = object_headers(rec) + self._version(bucket, rec)
        if check_conditions(req.headers, rec.etag, rec.last_modified):
            return Response(304, [h for h in headers if h[0] in ("ETag", "Last-Modified")])
        try:
            span = parse_range(req.headers.get("Range"), rec.size)
        except RangeNotSatisfiable:
            raise EmulatorError(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
                headers={"Content-Range": f"bytes */{rec.size}"},
            ) from None
        if req.method == "HEAD":
            return Response(200, headers, iter(()), length=rec.size)
        if span is None:
            return Response(200, headers, self.store.read_range(rec, 0, rec.size - 1), length=rec.size)
        headers.append(("Content-Range", f"bytes {span[0]}-{span[1]}/{rec.size}"))
        return Response(206, headers, self.store.read_range(rec, *span), length=span[1] - span[0] + 1)

    def delete_object(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"versionId"})
        version, marker = self.store.delete_version(bucket, key, obs_versions.DIALECT.param(req))
        headers = [("x-obs-delete-marker", "true")] if marker else []
        if version is not None:
            headers.append(("x-obs-version-id", version))
        return Response(204, headers)

    # -- tagging ------------------------------------------------------------------------------------
    def put_tagging(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"tagging", "versionId"})
        return self.tagging.put(req, bucket, key)

    def get_tagging(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"tagging", "versionId"})
        return self.tagging.get(req, bucket, key)

    def delete_tagging(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"tagging", "versionId"})
        return self.tagging.delete(req, bucket, key)

    # -- versioning ---------------------------------------------------------------------------------
    def put_versioning(self, req: Request, bucket: str) -> Response:
        check_request(req, {"versioning"})
        return vers.put_versioning(self.store, req, bucket)

    def get_versioning(self, req: Request, bucket: str) -> Response:
        check_request(req, {"versioning"})
        return obs_versions.get_versioning(self.store, bucket, xml_response)

    def list_versions(self, req: Request, bucket: str) -> Response:
        check_request(req, obs_versions.LIST_PARAMS)
        url, enc = encoder(req)
        return obs_versions.list_versions(self.store, req, bucket, enc, url, OWNER_ID, xml_response)

    # -- multipart ----------------------------------------------------------------------------------
    def initiate_upload(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"uploads"})
        up = self.store.create_upload(bucket, key, stored_headers(req), TAGS.from_header(req))
        return xml_response(
            "InitiateMultipartUploadResult",
            element("Bucket", bucket),
            element("Key", key),
            element("UploadId", up.upload_id),
        )

    def _part_number(self, req: Request) -> int:
        return _int_param(req, "partNumber", 0, 1, MAX_PART_NUMBER)

    def upload_part(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"uploadId", "partNumber"})
        number = self._part_number(req)
        length = require_length(req)
        upload_id = req.param("uploadId") or ""
        self.store.upload(bucket, key, upload_id)
        blob = self.store.write_blob(req.body(), expected_size=length)
        try:
            part = self.store.put_part(bucket, key, upload_id, number, blob)
        except BaseException:
            blob.discard()
            raise
        return Response(200, [("ETag", quoted(part.etag))])

    def copy_part(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"uploadId", "partNumber"})
        number = self._part_number(req)
        upload_id = req.param("uploadId") or ""
        self.store.upload(bucket, key, upload_id)
        src_bucket, src_key, src_version = copy_source(req)
        src = self.store.get_version(src_bucket, src_key, src_version, obs_versions.DIALECT.prefix)
        start, end = 0, src.size - 1
        value = req.headers.get("x-obs-copy-source-range")
        if value is not None:
            first, sep, last = value.removeprefix("bytes=").partition("-")
            if (
                not (sep and first.isdigit() and last.isdigit())
                or int(first) > int(last)
                or int(last) >= src.size
            ):
                raise EmulatorError(
                    400, "InvalidArgument", "x-obs-copy-source-range is not within the source."
                )
            start, end = int(first), int(last)
        blob = self.store.write_blob(self.store.read_range(src, start, end), expected_size=end - start + 1)
        try:
            part = self.store.put_part(bucket, key, upload_id, number, blob)
        except BaseException:
            blob.discard()
            raise
        return xml_response(
            "CopyPartResult",
            element("LastModified", iso8601(part.last_modified)),
            element("ETag", quoted(part.etag)),
        )

    def complete_upload(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"uploadId", "encoding-type"})
        upload_id = req.param("uploadId") or ""
        self.store.upload(bucket, key, upload_id)
        root = parse_xml(req.body())
        parts: list[tuple[int, str]] = []
        for node in root.findall("Part"):
            number, etag = node.findtext("PartNumber", ""), node.findtext("ETag", "")
            if not number.strip().isdigit():
                raise EmulatorError(400, "MalformedXML", "PartNumber must be a positive integer.")
            parts.append((int(number), etag.strip().strip('"').lower()))
        rec = self.store.complete_upload(bucket, key, upload_id, parts, MIN_PART_SIZE)
        response = xml_response(
            "CompleteMultipartUploadResult",
            element("Location", f"/{bucket}/{quote(key)}"),
            element("Bucket", bucket),
            element("Key", key),
            element("ETag", quoted(rec.etag)),
        )
        response.headers += self._version(bucket, rec)
        return response

    def abort_upload(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, {"uploadId"})
        self.store.abort_upload(bucket, key, req.param("uploadId") or "")
        return Response(204)

    def list_parts(self, req: Request, bucket: str, key: str) -> Response:
        check_request(req, PARTS_PARAMS)
        url, enc = encoder(req)
        upload_id = req.param("uploadId") or ""
        marker = _int_param(req, "part-number-marker", 0, 0, MAX_PART_NUMBER)
        max_parts = _int_param(req, "max-parts", 1000, 1, 1000)
        parts, truncated = self.store.list_parts(bucket, key, upload_id, marker, max_parts)
        fields = [
            element("Bucket", bucket),
            element("Key", enc(key)),
            element("UploadId", upload_id),
            element("Initiator", None, element("ID", OWNER_ID)),
            element("Owner", None, element("ID", OWNER_ID)),
            element("StorageClass", "STANDARD"),
            element("PartNumberMarker", marker),
            element("NextPartNumberMarker", parts[-1].number) if truncated and parts else None,
            element("MaxParts", max_parts),
            element("IsTruncated", "true" if truncated else "false"),
            element("EncodingType", "url") if url else None,
        ]
        fields += [_part_element(p) for p in parts]
        return xml_response("ListPartsResult", *fields)


def _part_element(part: PartRecord) -> ET.Element:
    return element(
        "Part",
        None,
        element("PartNumber", part.number),
        element("LastModified", iso8601(part.last_modified)),
        element("ETag", quoted(part.etag)),
        element("Size", part.size),
    )
