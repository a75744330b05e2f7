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
from collections.abc import AsyncIterator, Callable
from typing import Any

import oss2

from backends import errors as be
from backends.base import (
    ALWAYS,
    VERSIONING_STATES,
    Backend,
    ByteRange,
    CompletedPart,
    DeleteResult,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PutBody,
    VersionsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS, SyncReader, iterate_blocking, sized
from backends.oss.core import MAX_COPY_OBJECT
from backends.oss.multipartops import OssMultipart
from backends.oss.settings import Settings
from backends.oss.support import (
    SizedBody,
    etag,
    from_http_date,
    from_unix,
    meta_to_headers,
    translate,
    unsized_chunks,
)
from backends.oss.versions import version_params, versions_page
from backends.recorded import recorded


class OssBackend(OssMultipart):
    """Objects, copies, listings and versions over the core and multipart parts."""

    # -- objects ---------------------------------------------------------------------------------
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
