"""The contract operations over an ObsClient (mixed into ``obs.ObsBackend``).

Each operation is one native SDK call run on the backend's pool, its result checked and translated.
Upload bodies reach the SDK as exact-length file objects (``obs_body``), never chunked: real S3 stores
refuse unknown-length uploads, and the last byte is handed over only once the client's body ended
cleanly, so a body that fails verification never commits.
"""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from obs import (
    CopyObjectHeader,
    GetObjectHeader,
    GetObjectRequest,
    PutObjectHeader,
)

from backends import errors as be
from backends.base import (
    ALWAYS,
    BucketInfo,
    ByteRange,
    CompletedPart,
    DeleteResult,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PutBody,
    WriteCondition,
)
from backends.bridge import BlockingPool, BodyReadError, iterate_blocking, read_up_to
from backends.metabucket import MetaBucketSettings
from backends.obs import wire
from backends.obs.body import BodyMismatch, ExactReader, Source, open_body
from backends.obs.errors import check, from_exception
from backends.wire.etag import strip_etag

T = TypeVar("T")

MAX_SINGLE_PUT = 5 * 1024**3
MAX_PARTS = 10000


class ObsOperations(MetaBucketSettings):
    name: str
    client: Any
    pool: BlockingPool
    signature: str
    part_size: int
    region: str | None

    # -- plumbing ----------------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.client is None:
            raise be.BackendUnavailable("The backend is not started.", backend=self.name)
        try:
            return await self.pool.run(fn, *args, **kwargs)
        except be.BackendError:
            raise
        except Exception as exc:
            raise from_exception(exc, self.name) from exc

    async def _ok(
        self, method: str, *args: Any, not_found: type[be.BackendError] = be.NoSuchKey, **kw: Any
    ) -> Any:
        result = await self._call(getattr(self.client, method), *args, **kw)
        return check(result, self.name, not_found=not_found)

    async def _missing(self, bucket: str) -> type[be.BackendError]:
        """What a bodiless 404 on an object means: the key, unless the bucket itself is gone."""
        result = await self._call(self.client.headBucket, bucket)
        return be.NoSuchBucket if int(result.status or 0) == 404 else be.NoSuchKey

    async def _upload(
        self, reader: ExactReader, fn: Callable[[], Any], not_found: type[be.BackendError]
    ) -> Any:
        """Run an upload call; the client's own body error wins over whatever the SDK made of it."""
        failure: BaseException | None = None
        try:
            result = await self.pool.run(fn)
        except Exception as exc:
            failure = reader.source.error or (
                be.InvalidArgument(str(exc), backend=self.name)
                if isinstance(exc, BodyMismatch)
                else from_exception(exc, self.name)
            )
        if failure is not None:
            raise failure  # raised outside the handler: no reference keeps the SDK's dead connection open
        if reader.source.error is not None:
            raise reader.source.error
        return check(result, self.name, not_found=not_found)

    async def _read_body(self, source: Source, fn: Callable[..., T], *args: Any) -> T:
        """Read the client's body on the pool; its own failure comes back as the original exception."""
        failure: BaseException | None = None
        try:
            return await self.pool.run(fn, source, *args)
        except BodyReadError as exc:
            failure = source.error or be.InvalidArgument(str(exc), backend=self.name)
        raise failure

    # -- buckets -----------------------------------------------------------------------------------
    async def list_buckets(self) -> list[BucketInfo]:
        result = await self._ok("listBuckets", False)
        buckets = [BucketInfo(b.name, wire.sdk_date(b.create_date)) for b in result.body.buckets or []]
        return sorted(self._visible(buckets), key=lambda b: b.name)

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        # OBS (and S3 in us-east-1) answer 200 when the owner re-creates a bucket: ask first.
        head = await self._call(self.client.headBucket, bucket)
        if int(head.status or 0) < 300:
            raise be.BucketAlreadyOwnedByYou(backend=self.name)
        # A 403 on HEAD has no body: a bucket someone else owns and a bad signature look alike, so let
        # createBucket answer (BucketAlreadyExists with its code, or AccessDenied).
        location = region or self.region
        if location in ("us-east-1", "region"):
            location = None
        await self._ok("createBucket", bucket, location=location)
        await self._forget_settings(bucket)

    async def delete_bucket(self, bucket: str) -> None:
        await self._ok("deleteBucket", bucket, not_found=be.NoSuchBucket)
        await self._forget_settings(bucket)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        await self._ok("headBucket", bucket, not_found=be.NoSuchBucket)
        for info in await self.list_buckets():
            if info.name == bucket:
                return info
        return BucketInfo(bucket, wire.EPOCH)

    # -- objects -----------------------------------------------------------------------------------
    def _put_headers(self, meta: ObjectMeta, size: int) -> PutObjectHeader:
        return PutObjectHeader(contentType=wire.content_type(meta), contentLength=size)

    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        cond.refuse("PutObject", self.name, "atomically by OBS (its writes take no precondition)")
        if body.size is None or body.size > MAX_SINGLE_PUT:
            return await self._put_multipart(bucket, key, body, meta)
        size = body.size
        reader = ExactReader(open_body(body), size, final=True)
        result = await self._upload(
            reader,
            lambda: self.client.putContent(
                bucket,
                key,
                reader,
                metadata=wire.user_metadata(meta),
                headers=self._put_headers(meta, size),
                extensionHeaders=wire.extension_headers(meta, self.signature),
            ),
            be.NoSuchBucket,
        )
        headers = wire.raw_headers(result)
        when = wire.http_date(headers.get("date"))
        return ObjectInfo(key, size, strip_etag(headers.get("etag")), when, meta, result.body.versionId)

    async def _put_multipart(self, bucket: str, key: str, body: PutBody, meta: ObjectMeta) -> ObjectInfo:
        """Bodies of unknown length (buffered a part at a time) or too large for one PUT."""
        source = open_body(body)
        part_size = self.part_size
        if body.size is not None:
            part_size = max(part_size, -(-body.size // MAX_PARTS))
        first = await self._read_body(source, read_up_to, part_size)
        if len(first) < part_size and await self._read_body(source, lambda s: s.drain_to_eof()):
            return await self.put_object(bucket, key, _Bytes(first), meta)
        upload_id = await self.create_multipart_upload(bucket, key, meta)
        try:
            parts: list[CompletedPart] = []
            chunk = first
            while chunk:
                info = await self.upload_part(bucket, key, upload_id, len(parts) + 1, _Bytes(chunk))
                parts.append(CompletedPart(info.part_number, info.etag))
                chunk = await self._read_body(source, read_up_to, part_size)
            return await self.complete_multipart_upload(bucket, key, upload_id, parts)
        except BaseException:
            await asyncio.shield(self._abort_quietly(bucket, key, upload_id))
            if source.error is not None:
                raise source.error from None
            raise

    async def _abort_quietly(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            await self.abort_multipart_upload(bucket, key, upload_id)
        except be.BackendError:
            pass

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """A HEAD error has no body, so no code: a bare 404 is the bucket's, the version's or the key's
        (a delete marker says so in its headers); a bare 400 naming a version is a malformed id."""
        result = await self._call(self.client.getObjectMetadata, bucket, key, versionId=version_id)
        if int(result.status or 0) == 404 and not result.errorCode:
            missing = await self._missing(bucket)
            if version_id is not None and missing is be.NoSuchKey:
                missing = be.NoSuchVersion
            check(result, self.name, not_found=missing)
        check(result, self.name)
        return wire.info_from_headers(key, wire.raw_headers(result), self.signature)

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        headers = GetObjectHeader()
        if range is not None:
            if range.first is None and not range.last:
                raise await self._bad_range(bucket, key, version_id)
            headers.range = wire.range_header(range.first, range.last)
        request = GetObjectRequest(versionId=version_id)
        result = await self._call(
            self.client.getObject,
            bucket,
            key,
            getObjectRequest=request,
            headers=headers,
            loadStreamInMemory=False,
        )
        status = int(result.status or 0)
        if status == 416:
            raise await self._bad_range(bucket, key, version_id)
        if status == 404 and not result.errorCode:
            check(result, self.name, not_found=await self._missing(bucket))
        check(result, self.name)
        raw = wire.raw_headers(result)
        info = wire.info_from_headers(key, raw, self.signature)
        span = wire.span_from_headers(raw) if status == 206 else None
        if range is not None and span is None:
            span = range.resolve(info.size)  # the store sent the whole object for a range covering it
        stream = result.body.response
        return GetResult(info, self._stream(stream, span, info.size), span)

    async def _bad_range(self, bucket: str, key: str, version_id: str | None) -> be.InvalidRange:
        info = await self.head_object(bucket, key, version_id)
        return be.InvalidRange(size=info.size, backend=self.name)

    def _stream(self, response: Any, span: tuple[int, int] | None, size: int) -> AsyncIterator[bytes]:
        expected = (span[1] - span[0] + 1) if span else size
        done = [0]

        raw = response.result  # http.client's own response, without the SDK's generic Exception

        def read(n: int) -> bytes:
            chunk: bytes = raw.read(n)
            done[0] += len(chunk)
            if not chunk and done[0] < expected:  # http.client reports a cut-off body as a normal end
                raise http.client.IncompleteRead(b"", expected - done[0])
            return chunk

        def close() -> None:
            if done[0] < expected:  # a half-read connection must not go back to the SDK's pool
                response.conn._clear = True
            response.close()

        return iterate_blocking(
            read, self.pool, close=close, translate=lambda e: from_exception(e, self.name)
        )

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        result = await self._ok("deleteObject", bucket, key, versionId=version_id, not_found=be.NoSuchBucket)
        return DeleteResult(result.body.versionId, bool(result.body.deleteMarker))

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
        cond.refuse("CopyObject", self.name, "atomically by OBS (its writes take no precondition)")
        headers = CopyObjectHeader()
        metadata = None
        tagging: dict[str, str] = {}  # no directive: OBS copies the source's tags, as S3's COPY
        if meta is not None:
            headers = CopyObjectHeader(
                directive="REPLACE",
                contentType=wire.content_type(meta),
                cacheControl=meta.cache_control,
                contentDisposition=meta.content_disposition,
                contentEncoding=meta.content_encoding,
                contentLanguage=meta.content_language,
                expires=meta.expires,
            )
            metadata = wire.user_metadata(meta)
            prefix = wire.header_prefix(self.signature)
            tagging = {prefix + "tagging-directive": "REPLACE", **wire.tag_headers(meta, self.signature)}
        result = await self._call(
            self.client.copyObject,
            src_bucket,
            src_key,
            dst_bucket,
            dst_key,
            metadata=metadata,
            headers=headers,
            versionId=src_version_id,
            extensionHeaders=tagging,
        )
        if int(result.status or 0) == 404 and result.errorCode not in ("NoSuchKey", "NoSuchBucket"):
            check(result, self.name, not_found=await self._missing(src_bucket))
        check(result, self.name)
        if not getattr(result.body, "etag", None):  # a 200 whose body is an error document
            raise be.InternalBackendError(detail="copy answered without an ETag", backend=self.name)
        return await self._written(dst_bucket, dst_key, result.body.versionId)

    async def _written(self, bucket: str, key: str, version_id: str | None) -> ObjectInfo:
        """The object a copy or a completion just wrote, read back by the version id it answered.

        ``null`` is read as the current object: it is the one just written, and some S3-protocol stores
        (moto) answer ``null`` in a bucket never versioned yet refuse ``versionId=null`` there.
        """
        return await self.head_object(bucket, key, None if version_id == "null" else version_id)

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        marker = wire.skip_rolled_up(prefix, delimiter, start_after)
        result = await self._ok(
            "listObjects",
            bucket,
            prefix=prefix or None,
            marker=marker or None,
            max_keys=max_keys,
            delimiter=delimiter or None,
            encoding_type="url",
            not_found=be.NoSuchBucket,
        )
        body = result.body
        objects = [
            ObjectInfo(c.key, int(c.size or 0), strip_etag(c.etag), wire.sdk_date(c.lastModified))
            for c in body.contents or []
        ]
        # entries at or before the marker: stores that roll up common prefixes ignoring the marker
        after = start_after.encode()
        objects = [o for o in objects if o.key.encode() > after]
        prefixes = [p.prefix for p in body.commonPrefixs or [] if p.prefix.encode() > after]
        objects, prefixes, trimmed = wire.trim_page(objects, prefixes, max_keys)
        truncated = bool(body.is_truncated) or trimmed
        next_marker = wire.last_item([o.key for o in objects] + prefixes) if truncated else None
        return ListPage(objects, prefixes, truncated, next_marker)


class _Bytes:
    """A PutBody over bytes already read (one buffered part of a longer body)."""

    def __init__(self, data: bytes):
        self.data = data
        self.size: int | None = len(data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data

    @property
    def checksums(self) -> dict[str, str]:
        return {}
