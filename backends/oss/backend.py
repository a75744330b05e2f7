"""The Alibaba Cloud OSS backend, over oss2's public API (Service, Bucket, multipart calls).

Every contract operation is OSS's own: PutObject, GetObject (ranges with ``x-oss-range-behavior:
standard`` so an unsatisfiable range is refused as S3 does, not silently widened), CopyObject, one
ListObjectsV2 page per call, native multipart (the upload id is OSS's). Bodies stream both ways through
``backends.bridge``: an upload of declared size goes out with Content-Length and its last bytes leave only
after the client's body ended normally (``SizedBody``), so a body that fails verification never lands;
oss2's CRC64 check runs on every upload and on full downloads.

What OSS cannot do as S3 does, and what clients get:
- Object keys starting with ``/`` or ``\\`` are refused by OSS: InvalidKey (S3 InvalidArgument).
- OSS accepts multipart parts down to 100 KiB; this backend applies S3's rule itself at complete time
  (EntityTooSmall for any part but the last under 5 MiB), and S3's InvalidPartOrder check, which oss2
  would otherwise hide by sorting the part list.
- OSS documents a multipart object's ETag as opaque (not an MD5). Clients get OSS's value lowercased, with
  its ``-N`` suffix; a client recomputing S3's md5-of-md5s may disagree on real OSS.
- CopyObject is limited to 1 GiB sources on OSS: larger copies run as a multipart UploadPartCopy.
- Checksums (``x-amz-checksum-*``) are not stored: OSS keeps only its CRC64 (capability off).
- Re-creating an existing bucket answers BucketAlreadyOwnedByYou when its info is readable with our
  credentials, else BucketAlreadyExists (OSS says BucketAlreadyExists for both).
- A bucket's region is the endpoint's: CreateBucket with another region is InvalidArgument.
- Storage classes map STANDARD/STANDARD_IA/GLACIER/DEEP_ARCHIVE to Standard/IA/Archive/ColdArchive.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import oss2
from oss2.models import PartInfo as OssPart

from backends import errors as be
from backends.base import (
    ALWAYS,
    MIN_PART_SIZE,
    VERSIONING_STATES,
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
    UploadInfo,
    UploadsPage,
    VersionsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS, BlockingPool, SyncReader, iterate_blocking, sized
from backends.metabucket import MetaBucketSettings
from backends.oss.settings import MiB, Settings
from backends.oss.support import (
    SizedBody,
    etag,
    from_http_date,
    from_iso,
    from_unix,
    headers_to_meta,
    make_session,
    meta_to_headers,
    translate,
    unsized_chunks,
)
from backends.oss.tagging import OssTagging
from backends.oss.versions import version_params, versions_page
from backends.recorded import recorded

T = TypeVar("T")
#: OSS's CopyObject limit; larger sources are copied part by part.
MAX_COPY_OBJECT = 1024 * MiB

# oss2 logs request headers (security token included) at DEBUG: keep it quieter unless asked.
if logging.getLogger("oss2").level == logging.NOTSET:
    logging.getLogger("oss2").setLevel(logging.INFO)

#: oss2.Bucket objects kept for reuse (cheap to rebuild; they share the one requests session).
MAX_CACHED_BUCKETS = 256


class OssBackend(MetaBucketSettings, OssTagging, Backend):
    capabilities = Capabilities(server_side_copy=True, stores_checksums=False, leading_slash_keys=False)

    def __init__(self, settings: Settings, name: str):
        self.name = name
        self.settings = settings
        self.meta_bucket = settings.meta_bucket
        self._pool: BlockingPool | None = None
        self._session: oss2.Session | None = None
        self._buckets: dict[str, oss2.Bucket] = {}
        self._lock = threading.Lock()
        s = settings
        if s.security_token:
            self._auth: Any = oss2.StsAuth(
                s.access_key_id, s.access_key_secret, s.security_token, s.auth_version
            )
        elif s.auth_version == "v4":
            self._auth = oss2.AuthV4(s.access_key_id, s.access_key_secret)
        else:
            self._auth = oss2.Auth(s.access_key_id, s.access_key_secret)

    def __repr__(self) -> str:
        return f"OssBackend(name={self.name!r}, endpoint={self.settings.endpoint!r})"

    # -- plumbing --------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._pool is None:
            self._pool = BlockingPool(self.settings.max_workers, name=f"oss-{self.name}")
            self._session = make_session(self.settings.max_workers, self.settings.connect_address)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._session is not None:
            self._session.session.close()
            self._session = None
        self._buckets.clear()

    @property
    def pool(self) -> BlockingPool:
        if self._pool is None:
            raise be.BackendUnavailable("The OSS backend is not started.", backend=self.name)
        return self._pool

    def _bucket(self, name: str) -> oss2.Bucket:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                if len(self._buckets) >= MAX_CACHED_BUCKETS:  # clients pick the names: stay bounded
                    self._buckets.clear()
                bucket = oss2.Bucket(
                    self._auth,
                    self.settings.endpoint,
                    name,
                    session=self._session,
                    connect_timeout=self.settings.connect_timeout,
                    region=self.settings.region,
                )
                self._buckets[name] = bucket
            return bucket

    def _service(self) -> oss2.Service:
        return oss2.Service(
            self._auth,
            self.settings.endpoint,
            session=self._session,
            connect_timeout=self.settings.connect_timeout,
            region=self.settings.region,
        )

    async def _run(
        self, fn: Callable[..., T], *args: Any, missing: type[be.BackendError] = be.NoSuchKey, **kwargs: Any
    ) -> T:
        try:
            return await self.pool.run(fn, *args, **kwargs)
        except Exception as exc:
            raise translate(exc, self.name, missing=missing) from exc

    # -- buckets ---------------------------------------------------------------------------------
    async def check(self) -> None:
        if self.settings.bucket:
            await self.head_bucket(self.settings.bucket)
        else:
            await self.list_buckets()

    async def list_buckets(self) -> list[BucketInfo]:
        service = self._service()
        out: list[BucketInfo] = []
        marker = ""
        for _ in range(10_000):
            page = await self._run(service.list_buckets, marker=marker, max_keys=1000)
            out += [BucketInfo(b.name, from_unix(b.creation_date)) for b in page.buckets]
            if not page.is_truncated or not page.next_marker:
                break
            marker = page.next_marker
        return self._visible(out)

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        if region and region != self.settings.region:
            raise be.InvalidArgument(
                f"This OSS endpoint serves region {self.settings.region}, not {region}.", backend=self.name
            )
        try:
            await self._run(self._bucket(bucket).create_bucket, missing=be.NoSuchBucket)
            await self._forget_settings(bucket)
        except be.BucketAlreadyExists as exc:
            try:
                await self.head_bucket(bucket)
            except be.BackendError:
                raise exc from None
            raise be.BucketAlreadyOwnedByYou(detail=exc.detail, backend=self.name) from None

    async def delete_bucket(self, bucket: str) -> None:
        await self._run(self._bucket(bucket).delete_bucket, missing=be.NoSuchBucket)
        await self._forget_settings(bucket)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        info = await self._run(self._bucket(bucket).get_bucket_info, missing=be.NoSuchBucket)
        return BucketInfo(info.name, from_iso(info.creation_date))

    # -- objects ---------------------------------------------------------------------------------
    def _condition(self, cond: WriteCondition) -> dict[str, str]:
        """A write condition as OSS headers: ``If-None-Match: *`` is ``x-oss-forbid-overwrite: true``
        (create only, decided by OSS with the write; 409 FileAlreadyExists → PreconditionFailed).
        OSS has no atomic If-Match on writes: refused rather than checked and written in two steps."""
        if cond.if_match is not None:
            raise be.NotImplementedByBackend(
                "A write with If-Match cannot be decided atomically by OSS.", backend=self.name
            )
        return {"x-oss-forbid-overwrite": "true"} if cond.if_none_match_star else {}

    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        headers = {**meta_to_headers(meta), **self._condition(cond)}
        reader = SyncReader(aiter(body), asyncio.get_running_loop())
        data: Any = SizedBody(reader, body.size) if body.size is not None else unsized_chunks(reader)
        try:
            result = await self.pool.run(self._bucket(bucket).put_object, key, data, headers=headers)
        except Exception as exc:
            if reader.error is not None:
                raise reader.error from None
            raise translate(exc, self.name) from exc
        size = body.size if body.size is not None else reader.bytes_read
        when = from_http_date(result.headers.get("date"))
        return ObjectInfo(key, size, etag(result.etag), when, meta.copy(), result.versionid)

    def _info(self, key: str, result: Any, size: int | None = None) -> ObjectInfo:
        headers = result.headers
        if size is None:
            size = int(headers.get("content-length") or 0)
        return ObjectInfo(
            key,
            size,
            etag(result.etag),
            from_unix(result.last_modified),
            headers_to_meta(headers),
            headers.get("x-oss-version-id"),
        )

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        params = version_params(version_id)
        try:
            result = await self._run(self._bucket(bucket).head_object, key, params=params)
        except be.NoSuchKey as exc:  # a HEAD 404 names no code
            if version_id is None or isinstance(exc, be.DeleteMarkerCurrent):
                raise
            await self.head_bucket(bucket)
            raise be.NoSuchVersion(detail=exc.detail, backend=self.name) from None
        return self._info(key, result)

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        headers = {"x-oss-range-behavior": "standard"}
        byte_range = None if range is None else (range.first, range.last)
        if range is not None and range.first is None and not range.last:
            info = await self.head_object(bucket, key, version_id)
            raise be.InvalidRange(size=info.size, backend=self.name)
        try:
            result = await self._run(
                self._bucket(bucket).get_object,
                key,
                byte_range=byte_range,
                headers=headers,
                params=version_params(version_id),
            )
        except be.InvalidRange as exc:
            if exc.size is None:
                exc.size = (await self.head_object(bucket, key, version_id)).size
            raise
        span, size = _content_range(result.headers.get("content-range"))
        if span is None:
            size = int(result.headers.get("content-length") or 0)
        info = self._info(key, result, size)
        return GetResult(info, self._stream(result, check_crc=span is None), span)

    async def _stream(self, result: Any, check_crc: bool) -> AsyncIterator[bytes]:
        def translate_mid_stream(exc: BaseException) -> BaseException:
            return translate(exc, self.name)

        async for chunk in iterate_blocking(
            result.read, self.pool, close=result.resp.response.close, translate=translate_mid_stream
        ):
            yield chunk
        if check_crc and result.client_crc is not None and result.server_crc is not None:
            if result.client_crc != result.server_crc:
                raise be.BackendUnavailable(detail="OSS download failed its CRC64 check", backend=self.name)

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        result = await self._run(
            self._bucket(bucket).delete_object,
            key,
            params=version_params(version_id),
            missing=be.NoSuchBucket,
        )
        return DeleteResult(result.versionid, bool(result.delete_marker))

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
        forbid = self._condition(cond)
        source = await self.head_object(src_bucket, src_key, src_version_id)
        if src_version_id is not None and source.size > MAX_COPY_OBJECT:
            raise be.NotImplementedByBackend(
                "Copying a version over 1 GiB is not implemented on OSS.", backend=self.name
            )
        new_meta = source.meta if meta is None else meta
        if source.size > MAX_COPY_OBJECT:
            if meta is None:  # copied part by part: the tags too must be carried over explicitly
                tags = await self.get_object_tagging(src_bucket, src_key)
                new_meta = source.meta.copy(tags=tags, tag_count=None)
            return await self._copy_by_parts(src_bucket, source, dst_bucket, dst_key, new_meta, cond)
        headers = {"x-oss-metadata-directive": "COPY", "x-oss-tagging-directive": "Copy", **forbid}
        if meta is not None:
            headers = {
                **meta_to_headers(meta),
                "x-oss-metadata-directive": "REPLACE",
                "x-oss-tagging-directive": "Replace",
                **forbid,
            }
        result = await self._run(
            self._bucket(dst_bucket).copy_object,
            src_bucket,
            src_key,
            dst_key,
            headers=headers,
            params=version_params(src_version_id),
        )
        when = from_http_date(result.headers.get("date"))
        return ObjectInfo(dst_key, source.size, etag(result.etag), when, new_meta.copy(), result.versionid)

    async def _copy_by_parts(
        self,
        src_bucket: str,
        source: ObjectInfo,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta,
        cond: WriteCondition,
    ) -> ObjectInfo:
        upload_id = await self.create_multipart_upload(dst_bucket, dst_key, meta)
        try:
            step = max(self.settings.part_size, -(-source.size // 10_000))
            parts = []
            for number, start in enumerate(range(0, source.size, step), start=1):
                span = (start, min(start + step, source.size) - 1)
                part = await self.upload_part_copy(
                    dst_bucket, dst_key, upload_id, number, src_bucket, source.key, span
                )
                parts.append(CompletedPart(number, part.etag))
            return await self.complete_multipart_upload(dst_bucket, dst_key, upload_id, parts, cond)
        except BaseException:
            await self.pool.run(self._bucket(dst_bucket).abort_multipart_upload, dst_key, upload_id)
            raise

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        if max_keys <= 0:
            await self.head_bucket(bucket)
            return ListPage([], [], False)
        b = self._bucket(bucket)
        token = ""
        for _ in range(1000):  # bounded: pages emptied by the start_after filter below are skipped
            result = await self._run(
                b.list_objects_v2,
                prefix=prefix,
                delimiter=delimiter,
                continuation_token=token,
                start_after=start_after,
                max_keys=max_keys,
                missing=be.NoSuchBucket,
            )
            objects = [
                ObjectInfo(
                    o.key, o.size, etag(o.etag), from_unix(o.last_modified), ObjectMeta(storage_class=None)
                )
                for o in result.object_list
                if not start_after or o.key.encode() > start_after.encode()
            ]
            prefixes = [p for p in result.prefix_list if not start_after or p.encode() > start_after.encode()]
            if objects or prefixes or not result.is_truncated:
                break
            token = result.next_continuation_token
        names = sorted([o.key for o in objects] + prefixes, key=lambda s: s.encode())
        truncated = bool(result.is_truncated)
        return ListPage(objects, prefixes, truncated, names[-1] if truncated and names else None)

    # -- multipart -------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        result = await self._run(
            self._bucket(bucket).init_multipart_upload,
            key,
            headers=meta_to_headers(meta),
            missing=be.NoSuchBucket,
        )
        return str(result.upload_id)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        reader = SyncReader(aiter(body), asyncio.get_running_loop())
        data: Any = SizedBody(reader, body.size) if body.size is not None else unsized_chunks(reader)
        try:
            result = await self.pool.run(self._bucket(bucket).upload_part, key, upload_id, part_number, data)
        except Exception as exc:
            if reader.error is not None:
                raise reader.error from None
            raise translate(exc, self.name, missing=be.NoSuchUpload) from exc
        size = body.size if body.size is not None else reader.bytes_read
        return PartInfo(part_number, etag(result.etag), size, from_http_date(result.headers.get("date")))

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
        if src_range is None:
            size = (await self.head_object(src_bucket, src_key)).size
            span = (0, size - 1) if size else None
        else:
            span = src_range
            size = src_range[1] - src_range[0] + 1
        result = await self._run(
            self._bucket(bucket).upload_part_copy, src_bucket, src_key, span, key, upload_id, part_number
        )
        return PartInfo(part_number, etag(result.etag), size, from_http_date(result.headers.get("date")))

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        forbid = self._condition(cond)
        if not parts:
            raise be.InvalidArgument("You must specify at least one part.", backend=self.name)
        for before, after in zip(parts, parts[1:], strict=False):
            if after.part_number <= before.part_number:
                raise be.InvalidPartOrder(backend=self.name)
        uploaded = await self._all_parts(bucket, key, upload_id)
        for part in parts:
            have = uploaded.get(part.part_number)
            if have is None or have.etag != etag(part.etag):
                raise be.InvalidPart(detail=f"part {part.part_number}", backend=self.name)
        for part in parts[:-1]:
            size = uploaded[part.part_number].size
            if size < MIN_PART_SIZE:
                raise be.EntityTooSmall(detail=f"part {part.part_number} is {size} bytes", backend=self.name)
        oss_parts = [OssPart(p.part_number, etag(p.etag).upper()) for p in parts]
        done = await self._run(
            self._bucket(bucket).complete_multipart_upload,
            key,
            upload_id,
            oss_parts,
            headers=forbid,
            missing=be.NoSuchUpload,
        )
        return await self.head_object(bucket, key, done.versionid)

    # -- versioning: OSS's own, ids passed through unchanged -------------------------------------
    async def get_bucket_versioning(self, bucket: str) -> str | None:
        result = await self._run(self._bucket(bucket).get_bucket_versioning, missing=be.NoSuchBucket)
        return result.status or None

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        if status not in VERSIONING_STATES:
            raise be.InvalidArgument(f"Unknown versioning status {status!r}.", backend=self.name)
        config = oss2.models.BucketVersioningConfig(status)
        await self._run(self._bucket(bucket).put_bucket_versioning, config, missing=be.NoSuchBucket)

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        result = await self._run(
            self._bucket(bucket).list_object_versions,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            max_keys=max_keys,
            versionid_marker=version_id_marker,
            missing=be.NoSuchBucket,
        )
        return versions_page(result)

    async def _all_parts(self, bucket: str, key: str, upload_id: str) -> dict[int, PartInfo]:
        found: dict[int, PartInfo] = {}
        marker = 0
        for _ in range(20):  # 10,000 parts at most, 1,000 a page
            page = await self.list_parts(bucket, key, upload_id, marker, 1000)
            found.update((p.part_number, p) for p in page.parts)
            if not page.is_truncated or page.next_part_number_marker is None:
                break
            marker = page.next_part_number_marker
        return found

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self._run(self._bucket(bucket).abort_multipart_upload, key, upload_id, missing=be.NoSuchUpload)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        result = await self._run(
            self._bucket(bucket).list_parts,
            key,
            upload_id,
            marker=str(part_number_marker or ""),
            max_parts=max_parts,
            missing=be.NoSuchUpload,
        )
        parts = [
            PartInfo(p.part_number, etag(p.etag), p.size, from_unix(p.last_modified)) for p in result.parts
        ]
        next_marker = int(result.next_marker) if result.is_truncated and result.next_marker else None
        return PartsPage(parts, bool(result.is_truncated), next_marker)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        result = await self._run(
            self._bucket(bucket).list_multipart_uploads,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
            missing=be.NoSuchBucket,
        )
        uploads = [UploadInfo(u.key, u.upload_id, from_unix(u.initiation_date)) for u in result.upload_list]
        truncated = bool(result.is_truncated)
        return UploadsPage(
            uploads,
            list(result.prefix_list),
            truncated,
            result.next_key_marker if truncated else None,
            result.next_upload_id_marker if truncated else None,
        )


def _content_range(value: str | None) -> tuple[tuple[int, int] | None, int | None]:
    """((start, end), total) from ``bytes start-end/total``."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    start, _, end = span.partition("-")
    try:
        return (int(start), int(end)), int(total)
    except ValueError:
        return None, None


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    return recorded(OssBackend(sized(settings, io_threads), name), settings.meta_bucket)
