"""The OSS operations the emulator serves, with OSS's headers and namespace-less XML shapes."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

import crcmod

from tests.emulators import oss_tagging, oss_versions
from tests.emulators import versioning as vers
from tests.emulators.core import (
    EmulatorError,
    RangeNotSatisfiable,
    Request,
    Response,
    check_conditions,
    element,
    http_date,
    parse_range,
    parse_xml,
    to_xml,
)
from tests.emulators.core import (
    iso8601 as _iso_ms,
)
from tests.emulators.oss_auth import SUBRESOURCES
from tests.emulators.store import Blob, ObjectRecord, Store, UploadRecord
from tests.emulators.tagging import TaggingOps

MIN_PART = 100 * 1024
MAX_OBJECT = 5 * 1024**3
MAX_COPY = 1024**3
MAX_KEY_BYTES = 1023
#: Stored with the object and echoed on GET/HEAD.
STORED_HEADERS = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
)
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
#: Sub-resources an operation may carry besides the one that selects it.
HARMLESS = frozenset(RESPONSE_OVERRIDES) | {"security-token", "continuation-token"}


class Crc64Ecma:
    """OSS's CRC-64/XZ (ECMA-182, reflected), as a streaming hasher for ``Store.write_blob``."""

    def __init__(self) -> None:
        self._crc = crcmod.Crc(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)

    def update(self, data: bytes) -> None:
        self._crc.update(data)

    def digest(self) -> bytes:
        return int(self._crc.crcValue).to_bytes(8, "big")


def iso8601(ts: float) -> str:
    """OSS's timestamps carry a literal ``.000Z`` (oss2 parses exactly that shape)."""
    return _iso_ms(int(ts))


def _etag(value: str) -> str:
    return f'"{value.upper()}"'


def _xml(root: ET.Element) -> Response:
    return Response(200, [("Content-Type", "application/xml")], to_xml(root))


def _int_param(req: Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise EmulatorError(400, "InvalidArgument", f"Argument {name} must be an integer in [{low}, {high}].")
    return int(raw)


def _key_check(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES or key.startswith(("/", "\\")):
        raise EmulatorError(400, "InvalidObjectName", "The specified object is not valid.", ObjectName=key)


def _stored_headers(req: Request) -> dict[str, str]:
    out = {}
    for name, value in req.headers.items():
        low = name.lower()
        if low in STORED_HEADERS or low.startswith("x-oss-meta-"):
            out[low] = value.strip()
    out.setdefault("content-type", "application/octet-stream")
    return out


class Operations:
    def __init__(self, store: Store, region: str, domain: str):
        self.store = store
        self.region = region
        self.domain = domain
        self.tagging = TaggingOps(store, oss_tagging.DIALECT)

    def refuse_unknown(self, req: Request, allowed: set[str]) -> None:
        for name, _ in req.query:
            if name in SUBRESOURCES and name not in allowed and name not in HARMLESS:
                raise EmulatorError(
                    501, "NotImplemented", f"The sub-resource {name} is not implemented by this emulator."
                )

    # -- body ------------------------------------------------------------------------------------------
    def _receive(self, req: Request) -> Blob:
        if req.content_length is None and not req.chunked:
            raise EmulatorError(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        if req.content_length is not None and req.content_length > MAX_OBJECT:
            raise EmulatorError(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."
            )
        blob = self.store.write_blob(req.body(), {"crc64": Crc64Ecma}, expected_size=req.content_length)
        md5_header = req.headers.get("Content-MD5")
        if md5_header is not None:
            try:
                declared = base64.b64decode(md5_header.strip(), validate=True)
            except (binascii.Error, ValueError):
                declared = b""
            if declared != blob.digests["md5"]:
                blob.discard()
                raise EmulatorError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        return blob

    @staticmethod
    def _crc(blob: Blob) -> str:
        return str(int.from_bytes(blob.digests["crc64"], "big"))

    def _write_headers(self, etag: str, crc: str | None, md5: bytes | None = None) -> list[tuple[str, str]]:
        headers = [("ETag", _etag(etag))]
        if crc is not None:
            headers.append(("x-oss-hash-crc64ecma", crc))
        if md5 is not None:
            headers.append(("Content-MD5", base64.b64encode(md5).decode()))
        return headers

    # -- service and buckets ---------------------------------------------------------------------------
    def list_buckets(self, req: Request) -> Response:
        prefix = req.param("prefix") or ""
        marker = req.param("marker") or ""
        max_keys = _int_param(req, "max-keys", 100, 1, 1000)
        names = [b for b in self.store.buckets() if b.name.startswith(prefix) and b.name > marker]
        page, truncated = names[:max_keys], len(names) > max_keys
        buckets = [
            element(
                "Bucket",
                None,
                element("CreationDate", iso8601(b.created)),
                element("ExtranetEndpoint", f"oss-{self.region}.{self.domain}"),
                element("IntranetEndpoint", f"oss-{self.region}-internal.{self.domain}"),
                element("Location", f"oss-{self.region}"),
                element("Name", b.name),
                element("Region", self.region),
                element("StorageClass", "Standard"),
            )
            for b in page
        ]
        root = element(
            "ListAllMyBucketsResult",
            None,
            element("Prefix", prefix) if prefix else None,
            element("Marker", marker) if marker else None,
            element("MaxKeys", max_keys) if req.has("max-keys") else None,
            element("IsTruncated", "true") if truncated else None,
            element("NextMarker", page[-1].name) if truncated else None,
            element("Owner", None, element("ID", "emulator"), element("DisplayName", "emulator")),
            element("Buckets", None, *buckets),
        )
        return _xml(root)

    def put_bucket(self, req: Request, bucket: str, key: str) -> Response:
        body = list(req.body())
        if any(body):
            parse_xml(body)  # CreateBucketConfiguration: accepted, storage class ignored
        self.store.create_bucket(bucket)
        return Response(200, [("Location", f"/{bucket}")])

    def delete_bucket(self, req: Request, bucket: str, key: str) -> Response:
        self.store.delete_bucket(bucket)
        return Response(204)

    def get_bucket_info(self, req: Request, bucket: str, key: str) -> Response:
        b = self.store.require_bucket(bucket)
        root = element(
            "BucketInfo",
            None,
            element(
                "Bucket",
                None,
                element("AccessMonitor", "Disabled"),
                element("CreationDate", iso8601(b.created)),
                element("ExtranetEndpoint", f"oss-{self.region}.{self.domain}"),
                element("IntranetEndpoint", f"oss-{self.region}-internal.{self.domain}"),
                element("Location", f"oss-{self.region}"),
                element("StorageClass", "Standard"),
                element("Name", b.name),
                element("Owner", None, element("DisplayName", "emulator"), element("ID", "emulator")),
                element("AccessControlList", None, element("Grant", "private")),
                element("Comment", ""),
            ),
        )
        return _xml(root)

    def list_objects(self, req: Request, bucket: str, key: str) -> Response:
        if req.param("list-type") != "2":
            raise EmulatorError(501, "NotImplemented", "Only ListObjectsV2 (list-type=2) is implemented.")
        encoding = req.param("encoding-type")
        if encoding not in (None, "", "url"):
            raise EmulatorError(400, "InvalidArgument", "The encoding-type must be url.")
        enc = (lambda s: quote(s, safe="")) if encoding == "url" else (lambda s: s)
        prefix = req.param("prefix") or ""
        delimiter = req.param("delimiter") or ""
        start_after = req.param("start-after") or ""
        token = req.param("continuation-token")
        max_keys = _int_param(req, "max-keys", 100, 0, 1000)
        after = start_after
        if token:
            try:
                after = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise EmulatorError(400, "InvalidArgument", "The continuation token is not valid.") from exc
        entries, truncated, last = self.store.list_objects(bucket, prefix, delimiter, after, max_keys)
        contents = [
            element(
                "Contents",
                None,
                element("Key", enc(e.key)),
                element("LastModified", iso8601(e.last_modified)),
                element("ETag", _etag(e.etag)),
                element("Type", e.extra.get("type", "Normal")),
                element("Size", e.size),
                element("StorageClass", "Standard"),
            )
            for e in entries
            if isinstance(e, ObjectRecord)
        ]
        prefixes = [
            element("CommonPrefixes", None, element("Prefix", enc(e))) for e in entries if isinstance(e, str)
        ]
        next_token = (
            base64.urlsafe_b64encode(last.encode()).decode().rstrip("=") if truncated and last else None
        )
        root = element(
            "ListBucketResult",
            None,
            element("Name", bucket),
            element("Prefix", enc(prefix)),
            element("StartAfter", enc(start_after)) if start_after else None,
            element("ContinuationToken", token) if token else None,
            element("MaxKeys", max_keys),
            element("Delimiter", enc(delimiter)),
            element("EncodingType", "url") if encoding == "url" else None,
            element("IsTruncated", "true" if truncated else "false"),
            element("NextContinuationToken", next_token) if next_token else None,
            element("KeyCount", len(entries)),
            *contents,
            *prefixes,
        )
        return _xml(root)

    def list_uploads(self, req: Request, bucket: str, key: str) -> Response:
        encoding = req.param("encoding-type")
        enc = (lambda s: quote(s, safe="")) if encoding == "url" else (lambda s: s)
        prefix = req.param("prefix") or ""
        delimiter = req.param("delimiter") or ""
        key_marker = req.param("key-marker") or ""
        id_marker = req.param("upload-id-marker") or ""
        max_uploads = _int_param(req, "max-uploads", 1000, 1, 1000)
        entries, truncated = self.store.list_uploads(
            bucket, prefix, delimiter, key_marker, id_marker, max_uploads
        )
        next_key = next_id = ""
        if truncated and entries:
            last = entries[-1]
            next_key, next_id = (last.key, last.upload_id) if isinstance(last, UploadRecord) else (last, "")
        uploads = [
            element(
                "Upload",
                None,
                element("Key", enc(e.key)),
                element("UploadId", e.upload_id),
                element("Initiated", iso8601(e.initiated)),
            )
            for e in entries
            if isinstance(e, UploadRecord)
        ]
        prefixes = [
            element("CommonPrefixes", None, element("Prefix", enc(e))) for e in entries if isinstance(e, str)
        ]
        root = element(
            "ListMultipartUploadsResult",
            None,
            element("Bucket", bucket),
            element("EncodingType", "url") if encoding == "url" else None,
            element("KeyMarker", enc(key_marker)),
            element("UploadIdMarker", id_marker),
            element("NextKeyMarker", enc(next_key)),
            element("NextUploadIdMarker", next_id),
            element("Delimiter", enc(delimiter)),
            element("Prefix", enc(prefix)),
            element("MaxUploads", max_uploads),
            element("IsTruncated", "true" if truncated else "false"),
            *uploads,
            *prefixes,
        )
        return _xml(root)

    # -- objects ---------------------------------------------------------------------------------------
    def put_object(self, req: Request, bucket: str, key: str) -> Response:
        _key_check(key)
        self.store.require_bucket(bucket)
        forbid = _forbid_overwrite(req)
        if forbid and self._exists(bucket, key):  # early, before the body; decided again with the write
            raise EmulatorError(409, "FileAlreadyExists", "The object you specified already exists.")
        tags = oss_tagging.DIALECT.from_header(req)
        blob = self._receive(req)
        try:
            rec = self.store.put_object(
                bucket,
                key,
                blob,
                _stored_headers(req),
                {"crc64": self._crc(blob)},
                create_only=forbid,
                tags=tags,
            )
        except BaseException:
            blob.discard()
            raise
        headers = self._write_headers(rec.etag, rec.extra["crc64"], blob.digests["md5"])
        return Response(200, headers + oss_versions.DIALECT.headers(self.store, bucket, rec))

    def _exists(self, bucket: str, key: str) -> bool:
        b = self.store.require_bucket(bucket)
        return key in b.objects

    def _copy_source(self, req: Request) -> ObjectRecord:
        raw = req.headers.get("x-oss-copy-source") or ""
        raw_path, _, query = raw.partition("?")
        path = unquote(raw_path)
        src_bucket, sep, src_key = path.lstrip("/").partition("/")
        if not sep or not src_key or (query and not query.startswith("versionId=")):
            raise EmulatorError(400, "InvalidArgument", "The x-oss-copy-source header is not valid.")
        version = unquote(query[len("versionId=") :]) if query else None
        src = self.store.get_version(src_bucket, src_key, version, oss_versions.DIALECT.prefix)
        headers = req.headers
        conditions = {
            "If-Match": headers.get("x-oss-copy-source-if-match"),
            "If-None-Match": headers.get("x-oss-copy-source-if-none-match"),
            "If-Modified-Since": headers.get("x-oss-copy-source-if-modified-since"),
            "If-Unmodified-Since": headers.get("x-oss-copy-source-if-unmodified-since"),
        }
        present = {k: v for k, v in conditions.items() if v is not None}
        if present and check_conditions(present, src.etag, src.last_modified, is_read=True):
            raise EmulatorError(304, "NotModified", "The source object was not modified.")
        return src

    def copy_object(self, req: Request, bucket: str, key: str) -> Response:
        _key_check(key)
        list(req.body())
        src = self._copy_source(req)
        if src.size > MAX_COPY:
            raise EmulatorError(
                400, "EntityTooLarge", "CopyObject supports sources up to 1 GB; use UploadPartCopy."
            )
        directive = (req.headers.get("x-oss-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise EmulatorError(400, "InvalidArgument", "x-oss-metadata-directive must be COPY or REPLACE.")
        headers = _stored_headers(req) if directive == "REPLACE" else None
        tags = None  # Copy: the source's
        if oss_tagging.DIALECT.copy_directive(req) == "replace":
            tags = oss_tagging.DIALECT.from_header(req) or {}
        source_version = src.extra.get("version_id")
        rec = self.store.copy_object(
            _bucket_of(req),
            src.key,
            bucket,
            key,
            headers,
            create_only=_forbid_overwrite(req),
            tags=tags,
            src_version=source_version,
            header_prefix=oss_versions.DIALECT.prefix,
        )
        root = element(
            "CopyObjectResult",
            None,
            element("ETag", _etag(rec.etag)),
            element("LastModified", iso8601(rec.last_modified)),
        )
        response = _xml(root).header("ETag", _etag(rec.etag))
        for name, value in oss_versions.DIALECT.headers(self.store, bucket, rec):
            response = response.header(name, value)
        if source_version is not None:
            response = response.header("x-oss-copy-source-version-id", source_version)
        return response

    def _object_headers(self, rec: ObjectRecord) -> list[tuple[str, str]]:
        headers = [
            ("ETag", _etag(rec.etag)),
            ("Last-Modified", http_date(rec.last_modified)),
            ("Accept-Ranges", "bytes"),
            ("x-oss-object-type", rec.extra.get("type", "Normal")),
            ("x-oss-storage-class", "Standard"),
        ]
        if "crc64" in rec.extra:
            headers.append(("x-oss-hash-crc64ecma", rec.extra["crc64"]))
        for name, value in rec.headers.items():
            headers.append((name, value))
        return headers + oss_tagging.DIALECT.count_header(rec.tags)

    def _read(self, req: Request, bucket: str, key: str, head: bool) -> Response:
        rec = self.store.get_version(
            bucket, key, oss_versions.DIALECT.param(req), oss_versions.DIALECT.prefix
        )
        if check_conditions(req.headers, rec.etag, rec.last_modified):
            return Response(304, [("ETag", _etag(rec.etag)), ("Last-Modified", http_date(rec.last_modified))])
        headers = self._object_headers(rec) + oss_versions.DIALECT.headers(self.store, bucket, rec)
        for param, header in RESPONSE_OVERRIDES.items():
            value = req.param(param)
            if value is not None:
                headers = [(k, v) for k, v in headers if k.lower() != header.lower()] + [(header, value)]
        standard = (req.headers.get("x-oss-range-behavior") or "").lower() == "standard"
        try:
            span = parse_range(req.headers.get("Range"), rec.size)
        except RangeNotSatisfiable as exc:
            if standard:
                raise EmulatorError(
                    416,
                    "InvalidRange",
                    "The requested range cannot be satisfied",
                    headers={"Content-Range": f"bytes */{rec.size}"},
                    ActualObjectSize=str(rec.size),
                ) from exc
            span = None
        status = 200
        start, end = 0, rec.size - 1
        if span is not None:
            status, (start, end) = 206, span
            headers.append(("Content-Range", f"bytes {start}-{end}/{rec.size}"))
        length = end - start + 1 if rec.size else 0
        if head:
            return Response(status, headers + [("Content-Length", str(length))], iter(()), length=length)
        body = self.store.read_range(rec, start, end) if length else iter(())
        return Response(status, headers, body, length=length)

    def get_object(self, req: Request, bucket: str, key: str) -> Response:
        return self._read(req, bucket, key, head=False)

    def head_object(self, req: Request, bucket: str, key: str) -> Response:
        return self._read(req, bucket, key, head=True)

    def delete_object(self, req: Request, bucket: str, key: str) -> Response:
        version, marker = self.store.delete_version(bucket, key, oss_versions.DIALECT.param(req))
        headers = [("x-oss-delete-marker", "true")] if marker else []
        if version is not None:
            headers.append(("x-oss-version-id", version))
        return Response(204, headers)

    def put_versioning(self, req: Request, bucket: str, key: str) -> Response:
        return vers.put_versioning(self.store, req, bucket)

    def get_versioning(self, req: Request, bucket: str, key: str) -> Response:
        return oss_versions.get_versioning(self.store, req, bucket)

    def list_versions(self, req: Request, bucket: str, key: str) -> Response:
        max_keys = _int_param(req, "max-keys", 100, 1, 1000)
        return oss_versions.list_versions(self.store, req, bucket, max_keys)

    # -- multipart -------------------------------------------------------------------------------------
    def initiate_upload(self, req: Request, bucket: str, key: str) -> Response:
        _key_check(key)
        list(req.body())
        up = self.store.create_upload(bucket, key, _stored_headers(req), oss_tagging.DIALECT.from_header(req))
        root = element(
            "InitiateMultipartUploadResult",
            None,
            element("Bucket", bucket),
            element("Key", key),
            element("UploadId", up.upload_id),
        )
        return _xml(root)

    def _part_number(self, req: Request) -> int:
        return _int_param(req, "partNumber", 0, 1, 10000)

    def upload_part(self, req: Request, bucket: str, key: str) -> Response:
        number = self._part_number(req)
        upload_id = req.param("uploadId") or ""
        self.store.upload(bucket, key, upload_id)
        blob = self._receive(req)
        try:
            part = self.store.put_part(bucket, key, upload_id, number, blob, {"crc64": self._crc(blob)})
        except BaseException:
            blob.discard()
            raise
        return Response(200, self._write_headers(part.etag, part.extra["crc64"], blob.digests["md5"]))

    def upload_part_copy(self, req: Request, bucket: str, key: str) -> Response:
        number = self._part_number(req)
        upload_id = req.param("uploadId") or ""
        list(req.body())
        self.store.upload(bucket, key, upload_id)
        src = self._copy_source(req)
        start, end = 0, src.size - 1
        raw_range = req.headers.get("x-oss-copy-source-range")
        if raw_range:
            try:
                span = parse_range(raw_range, src.size)
            except RangeNotSatisfiable as exc:
                raise EmulatorError(416, "InvalidRange", "The requested range cannot be satisfied") from exc
            if span is None:
                raise EmulatorError(
                    400, "InvalidArgument", "The x-oss-copy-source-range header is not valid."
                )
            start, end = span
        chunks = self.store.read_range(src, start, end) if src.size else iter(())
        blob = self.store.write_blob(chunks, {"crc64": Crc64Ecma})
        part = self.store.put_part(bucket, key, upload_id, number, blob, {"crc64": self._crc(blob)})
        root = element(
            "CopyPartResult",
            None,
            element("LastModified", iso8601(part.last_modified)),
            element("ETag", _etag(part.etag)),
        )
        return _xml(root).header("ETag", _etag(part.etag))

    def complete_upload(self, req: Request, bucket: str, key: str) -> Response:
        upload_id = req.param("uploadId") or ""
        self.store.upload(bucket, key, upload_id)
        root = parse_xml(req.body())
        if root.tag != "CompleteMultipartUpload":
            raise EmulatorError(400, "MalformedXML", "The root element must be CompleteMultipartUpload.")
        parts: list[tuple[int, str]] = []
        for node in root.findall("Part"):
            number, etag = node.findtext("PartNumber"), node.findtext("ETag")
            if number is None or not number.strip().isdigit() or etag is None:
                raise EmulatorError(400, "MalformedXML", "Each Part needs a PartNumber and an ETag.")
            parts.append((int(number), etag.strip().strip('"').lower()))
        rec = self.store.complete_upload(
            bucket, key, upload_id, parts, MIN_PART, {"type": "Multipart"}, create_only=_forbid_overwrite(req)
        )
        encoding = req.param("encoding-type")
        shown = quote(key, safe="") if encoding == "url" else key
        result = element(
            "CompleteMultipartUploadResult",
            None,
            element("EncodingType", "url") if encoding == "url" else None,
            element("Location", f"http://{bucket}.{self.domain}/{quote(key)}"),
            element("Bucket", bucket),
            element("Key", shown),
            element("ETag", _etag(rec.etag)),
        )
        response = _xml(result).header("ETag", _etag(rec.etag))
        for name, value in oss_versions.DIALECT.headers(self.store, bucket, rec):
            response = response.header(name, value)
        return response

    def abort_upload(self, req: Request, bucket: str, key: str) -> Response:
        self.store.abort_upload(bucket, key, req.param("uploadId") or "")
        return Response(204)

    def list_parts(self, req: Request, bucket: str, key: str) -> Response:
        upload_id = req.param("uploadId") or ""
        marker = _int_param(req, "part-number-marker", 0, 0, 10000)
        max_parts = _int_param(req, "max-parts", 1000, 1, 1000)
        parts, truncated = self.store.list_parts(bucket, key, upload_id, marker, max_parts)
        root = element(
            "ListPartsResult",
            None,
            element("Bucket", bucket),
            element("Key", key),
            element("UploadId", upload_id),
            element("PartNumberMarker", marker),
            element("NextPartNumberMarker", parts[-1].number if parts else marker),
            element("MaxParts", max_parts),
            element("IsTruncated", "true" if truncated else "false"),
            *[
                element(
                    "Part",
                    None,
                    element("PartNumber", p.number),
                    element("LastModified", iso8601(p.last_modified)),
                    element("ETag", _etag(p.etag)),
                    element("HashCrc64ecma", p.extra.get("crc64")),
                    element("Size", p.size),
                )
                for p in parts
            ],
        )
        return _xml(root)


def _forbid_overwrite(req: Request) -> bool:
    """``x-oss-forbid-overwrite: true`` (PutObject, CopyObject, CompleteMultipartUpload): 409
    FileAlreadyExists instead of replacing an existing object, decided atomically with the write."""
    return (req.headers.get("x-oss-forbid-overwrite") or "").lower() == "true"


def _bucket_of(req: Request) -> str:
    raw = unquote((req.headers.get("x-oss-copy-source") or "").split("?", 1)[0])
    return raw.lstrip("/").partition("/")[0]
