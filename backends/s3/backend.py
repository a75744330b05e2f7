"""The S3-compatible backend (MinIO, AWS S3, moto, another s3bridge) over minio-py.

Every contract operation is the store's own operation: multipart uploads are the store's multipart (its
upload id, no gateway state), copies are server-side CopyObject / UploadPartCopy, a listing page is one
ListObjectsV2 request with the caller's max-keys (minio's ``list_objects`` would walk every page).
Calls go through minio's request layer (``_execute``: URL building, SigV4, error parsing) rather than
its public helpers, which add client-side name checks, extra stat requests and a forced Content-Type.

Uploads stream with bounded memory. minio-py's own ``put_object`` reads each part into memory, so a
body of known size goes out as one streamed request signed UNSIGNED-PAYLOAD (``StreamingMinio``): a
single PutObject up to ``multipart_threshold`` (default: S3's 5 GiB limit, so the ETag is the plain MD5
S3 clients expect), the store's multipart with streamed parts of ``part_size`` beyond. Only a body of unknown size is buffered, one ``part_size`` part at
a time, because each part's Content-Length must be known before it is sent. The end of a body is checked
before its last bytes leave (see ``SizedStream``), so a body that fails at the end aborts the request and
the store commits nothing; a failed multipart upload is aborted. The body's own exception is re-raised.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from itertools import pairwise
from typing import Any, TypeVar
from urllib.parse import quote

from minio.helpers import md5sum_hash

from backends import errors as be
from backends.base import (
    ALWAYS,
    Backend,
    BucketInfo,
    ByteRange,
    Capabilities,
    CompletedPart,
    DeleteResult,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    PutBody,
    UploadsPage,
    VersionsPage,
    WriteCondition,
    declared_integrity,
)
from backends.bridge import DEFAULT_THREADS, BlockingPool, SyncReader, sized
from backends.metabucket import MetaBucketSettings
from backends.recorded import recorded
from backends.s3.attributes import S3Attributes
from backends.s3.client import SizedStream, StreamingMinio, http_pool
from backends.s3.download import open_get, stream
from backends.s3.errors import map_error
from backends.s3.integrity import md5_header
from backends.s3.objectlock import S3ObjectLock, lock_upload_id, split_upload_id
from backends.s3.settings import Settings
from backends.s3.tagging import S3Tagging
from backends.s3.upload import (
    checked,
    complete_body,
    complete_headers,
    condition_headers,
    create_upload,
    put_multipart,
    raise_error_body,
    send,
    send_unsized_part,
)
from backends.s3.wire import (
    delete_result,
    info_from_headers,
    is_locking,
    listing_query,
    location_body,
    meta_headers,
    named_version,
    parse_content_range,
    parse_copy_result,
    parse_list_objects,
    parse_list_uploads,
    parse_list_versions,
    range_header,
    text_of,
    version_query,
    versioning_body,
    with_version,
)

T = TypeVar("T")


class S3Backend(MetaBucketSettings, S3Tagging, S3Attributes, S3ObjectLock, Backend):
    capabilities = Capabilities(server_side_copy=True, stores_checksums=False)

    def __init__(self, settings: Settings, *, name: str = "s3"):
        self.name = name
        self.settings = settings
        self._http = http_pool(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_connections=settings.max_pool_connections,
            ca_bundle=settings.ca_bundle,
        )
        self._client = StreamingMinio(
            settings.host_port(),
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            session_token=settings.session_token,
            secure=settings.is_secure(),
            region=settings.region,
            http_client=self._http,
        )
        if settings.addressing == "virtual":
            self._client.enable_virtual_style_endpoint()
        else:
            self._client.disable_virtual_style_endpoint()
        self._pool = BlockingPool(settings.max_workers, name=f"s3-{name}")
        self.meta_bucket = settings.meta_bucket

    def __repr__(self) -> str:
        return f"S3Backend(name={self.name!r}, endpoint={self.settings.endpoint!r})"

    async def close(self) -> None:
        self._pool.shutdown()
        self._http.clear()

    # -- plumbing --------------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await self._pool.run(fn, *args, **kwargs)
        except Exception as exc:
            raise map_error(exc, self.name) from exc

    def _execute(self, method: str, bucket: str | None = None, key: str | None = None, **kw: Any) -> Any:
        return self._client._execute(method, bucket, key, **kw)

    async def _request(
        self, method: str, bucket: str | None = None, key: str | None = None, **kw: Any
    ) -> Any:
        return await self._run(self._execute, method, bucket, key, **kw)

    async def _upload(self, body: PutBody, fn: Callable[[SyncReader], T]) -> T:
        """Run ``fn`` on the pool with the body as a SyncReader; the body's own failure wins."""
        reader = SyncReader(aiter(body), asyncio.get_running_loop())
        try:
            return await self._pool.run(fn, reader)
        except BaseException as exc:
            if reader.error is not None:
                raise reader.error from None
            if isinstance(exc, Exception):
                raise map_error(exc, self.name) from exc
            raise

    def _not_found_key(self, bucket: str, exc: be.BackendError) -> be.BackendError:
        """A bodiless 404 (HEAD) names no code: tell a missing bucket from a missing key."""
        try:
            self._execute("HEAD", bucket)
        except Exception as head_exc:
            mapped = map_error(head_exc, self.name)
            if isinstance(mapped, be.NoSuchBucket):
                return mapped
        return exc

    @staticmethod
    def _store_upload(upload_id: str) -> str:
        """The store's own upload id (without the lock a locking upload carries, see s3 objectlock)."""
        # An empty uploadId would turn UploadPart into PutObject and Abort into DeleteObject.
        if not upload_id:
            raise be.NoSuchUpload(detail="empty upload id")
        return split_upload_id(upload_id)[0]

    # -- buckets ---------------------------------------------------------------------------------
    async def list_buckets(self) -> list[BucketInfo]:
        buckets = await self._run(self._client.list_buckets)
        epoch = dt.datetime.fromtimestamp(0, dt.timezone.utc)
        infos = [BucketInfo(b.name, b.creation_date or epoch) for b in buckets]
        return sorted(self._visible(infos), key=lambda b: b.name)

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        """HEAD first: in us-east-1 S3 answers 200 to re-creating a bucket you own (a legacy quirk), and
        the contract wants BucketAlreadyOwnedByYou as in every other region."""
        try:
            await self._request("HEAD", bucket)
        except be.NoSuchBucket:
            await self._request("PUT", bucket, body=location_body(region))
            await self._forget_settings(bucket)
            return
        except be.AccessDenied as exc:  # someone else's bucket
            raise be.BucketAlreadyExists(detail=exc.detail, backend=self.name) from None
        raise be.BucketAlreadyOwnedByYou(backend=self.name)

    async def delete_bucket(self, bucket: str) -> None:
        await self._request("DELETE", bucket)
        await self._forget_settings(bucket)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        """HEAD answers existence; the creation date only ListBuckets knows (epoch if not listed)."""
        await self._request("HEAD", bucket)
        try:
            listed = {b.name: b for b in await self.list_buckets()}
        except be.AccessDenied:
            listed = {}
        found = listed.get(bucket)
        return found or BucketInfo(bucket, dt.datetime.fromtimestamp(0, dt.timezone.utc))

    # -- objects ---------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        headers = meta_headers(meta)
        size = body.size
        cond_headers = condition_headers(cond)
        locking = is_locking(meta)  # S3 wants an integrity check it verifies (see s3 integrity)
        declared = declared_integrity(body) if locking else None

        def upload(reader: SyncReader) -> tuple[str, int, str | None]:
            if size is not None and size <= self.settings.multipart_threshold:
                stream, sums = checked(SizedStream(reader, size, final=True), declared)
                sent = send(self._client, bucket, key, stream, {**headers, **cond_headers, **sums})
                return sent[0], size, sent[1]
            part_size = self.settings.part_size
            return put_multipart(
                self._client, bucket, key, reader, size, headers, part_size, cond_headers, locking
            )

        etag, stored, version = await self._upload(body, upload)
        now = dt.datetime.now(dt.timezone.utc)
        return ObjectInfo(key, stored, etag, now, meta.copy(), version_id=version)

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        headers = {"Range": range_header(range)} if range is not None else None
        query = version_query(version_id)
        try:
            resp, whole = await self._run(
                open_get, self._execute, bucket, key, headers=headers, query_params=query
            )
        except be.InvalidRange as exc:
            if exc.size is None:  # the store did not say the size: ask for it
                exc.size = (await self.head_object(bucket, key)).size
            raise
        info = with_version(info_from_headers(key, resp.headers), resp.headers)
        span = parse_content_range(resp.headers.get("content-range"))[0] if resp.status == 206 else None
        body = whole if whole is not None else stream(resp, self._pool, lambda e: map_error(e, self.name))
        return GetResult(info=info, body=body, span=span)

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """A HEAD error has no body, so no code: a 404 naming a version is NoSuchVersion (unless the
        store's headers say delete marker, or the bucket is gone) and a 400 a malformed version id."""
        try:
            resp = await self._request("HEAD", bucket, key, query_params=version_query(version_id))
        except be.DeleteMarkerCurrent:
            raise
        except be.NoSuchKey as exc:
            found = await self._run(self._not_found_key, bucket, exc)
            if version_id is not None and found is exc:
                raise be.NoSuchVersion(detail=exc.detail, backend=self.name) from None
            raise found from None
        except be.InternalBackendError as exc:
            if version_id is not None and _http_status(exc.__cause__) == 400:
                raise be.InvalidArgument("Invalid version id specified", backend=self.name) from None
            raise
        return with_version(info_from_headers(key, resp.headers), resp.headers)

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        try:
            resp = await self._request("DELETE", bucket, key, query_params=version_query(version_id))
        except be.AccessDenied as exc:
            if version_id is None:
                raise
            raise await self.lock_refusal(exc, bucket, key, version_id) from exc
        return delete_result(resp.headers)

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta | None,
        cond: WriteCondition = ALWAYS,
        src_version_id: str | None = None,
    ) -> ObjectInfo:
        source = _copy_source(src_bucket, src_key)
        if src_version_id is not None:
            source += "?versionId=" + quote(src_version_id, safe="")
        headers = {"x-amz-copy-source": source}
        if meta is None:
            headers["x-amz-metadata-directive"] = "COPY"
            headers["x-amz-tagging-directive"] = "COPY"
        else:
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers["x-amz-tagging-directive"] = "REPLACE"
            headers.update(meta_headers(meta))
            if is_locking(meta):  # the MD5 of the empty request body: moto wants one on a locking copy
                headers["Content-MD5"] = md5sum_hash(b"") or ""
        headers.update(condition_headers(cond))
        resp = await self._request("PUT", dst_bucket, dst_key, headers=headers)
        self._copy_result(resp.data)
        info = await self.head_object(dst_bucket, dst_key, named_version(resp.headers))
        if meta is not None and info.meta.tagging_count != len(meta.tags):
            # A store that kept the source's tags despite the REPLACE directive (Ceph RGW 16).
            await self.put_object_tagging(dst_bucket, dst_key, meta.tags)
            info.meta.tag_count = len(meta.tags)
        if meta is not None and is_locking(meta):
            info = await self.ensure_lock(dst_bucket, dst_key, info, meta)
        return info

    def _copy_result(self, data: bytes) -> tuple[str, dt.datetime]:
        """A copy can fail after its 200 header was sent: the body is then an <Error> document."""
        self._raise_error_body(data)
        return parse_copy_result(data)

    def _raise_error_body(self, data: bytes) -> None:
        """Raise the <Error> document a 200 answer may carry (copies and CompleteMultipartUpload)."""
        raise_error_body(data, self.name)

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        query = {
            "list-type": "2",
            "prefix": prefix,
            "delimiter": delimiter,
            "max-keys": str(max_keys),
            "encoding-type": "url",
        }
        if start_after:
            query["start-after"] = start_after
        resp = await self._request("GET", bucket, query_params=query)
        return parse_list_objects(resp.data)

    # -- versioning: the store's own, ids passed through unchanged ------------------------------
    async def get_bucket_versioning(self, bucket: str) -> str | None:
        resp = await self._request("GET", bucket, query_params={"versioning": ""})
        return text_of(resp.data, "Status") or None

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        body = versioning_body(status)
        headers = {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or ""}
        await self._request("PUT", bucket, body=body, headers=headers, query_params={"versioning": ""})

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        markers = {"key-marker": key_marker, "version-id-marker": version_id_marker}
        query = listing_query("versions", prefix, delimiter, ("max-keys", max_keys), markers)
        resp = await self._request("GET", bucket, query_params=query)
        return parse_list_versions(resp.data)

    # -- multipart -------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        upload_id = await self._run(create_upload, self._client, bucket, key, meta_headers(meta))
        return lock_upload_id(upload_id, meta)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        query = {"partNumber": str(part_number), "uploadId": self._store_upload(upload_id)}
        size = body.size
        md5 = md5_header(declared_integrity(body))  # the store checks the part as the client asked

        def upload(reader: SyncReader) -> tuple[str, int]:
            if size is None:
                limit = self.settings.part_size
                return send_unsized_part(self._client, bucket, key, reader, query, limit, md5)
            stream = SizedStream(reader, size, final=True)
            return send(self._client, bucket, key, stream, md5, query)[0], size

        etag, length = await self._upload(body, upload)
        return PartInfo(part_number, etag, length, dt.datetime.now(dt.timezone.utc))

    async def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        src_range: tuple[int, int] | None,
    ) -> PartInfo:
        store_id = self._store_upload(upload_id)
        headers = {"x-amz-copy-source": _copy_source(src_bucket, src_key)}
        if src_range is not None:
            headers["x-amz-copy-source-range"] = f"bytes={src_range[0]}-{src_range[1]}"
        query = {"partNumber": str(part_number), "uploadId": store_id}
        resp = await self._request("PUT", bucket, key, headers=headers, query_params=query)
        etag, modified = self._copy_result(resp.data)
        if src_range is not None:
            size = src_range[1] - src_range[0] + 1
        else:
            size = (await self.head_object(src_bucket, src_key)).size
        return PartInfo(part_number, etag, size, modified)

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        self._store_upload(upload_id)
        store_id, lock = split_upload_id(upload_id)
        numbers = [p.part_number for p in parts]
        if any(a >= b for a, b in pairwise(numbers)):  # not every store checks (moto does not)
            raise be.InvalidPartOrder(detail=f"part numbers {numbers}", backend=self.name)
        body = complete_body([(p.part_number, p.etag) for p in parts])
        headers = complete_headers(body, condition_headers(cond))
        query = {"uploadId": store_id}
        resp = await self._request("POST", bucket, key, body=body, headers=headers, query_params=query)
        # S3 may fail after its 200 header went out: the body is then an <Error> document. The answer's
        # ETag is not relied on (Ceph RGW 16.2 sends it empty); the HEAD below reads the stored one.
        self._raise_error_body(resp.data)
        info = await self.head_object(bucket, key, named_version(resp.headers))
        return info if lock is None else await self.ensure_lock(bucket, key, info, lock)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        store_id = self._store_upload(upload_id)
        await self._run(self._client._abort_multipart_upload, bucket, key, store_id)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        store_id = self._store_upload(upload_id)
        marker = str(part_number_marker) if part_number_marker else None
        result = await self._run(self._client._list_parts, bucket, key, store_id, max_parts, marker)
        now = dt.datetime.now(dt.timezone.utc)
        parts = [PartInfo(p.part_number, p.etag, p.size or 0, p.last_modified or now) for p in result.parts]
        next_marker = None
        if result.is_truncated:
            next_marker = int(result.next_part_number_marker or parts[-1].part_number)
        return PartsPage(parts=parts, is_truncated=result.is_truncated, next_part_number_marker=next_marker)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        """``_execute`` rather than minio's ``_list_multipart_uploads``, which drops CommonPrefixes and
        NextUploadIdMarker."""
        markers = {"key-marker": key_marker, "upload-id-marker": upload_id_marker}
        query = listing_query("uploads", prefix, delimiter, ("max-uploads", max_uploads), markers)
        resp = await self._request("GET", bucket, query_params=query)
        return parse_list_uploads(resp.data)


def _copy_source(bucket: str, key: str) -> str:
    return quote(f"/{bucket}/{key}", safe="/")


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    return recorded(S3Backend(sized(settings, io_threads), name=name), settings.meta_bucket)


def _http_status(exc: BaseException | None) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status", None)
    return int(status) if isinstance(status, int) else None
