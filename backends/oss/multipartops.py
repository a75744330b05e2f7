"""The OSS backend's multipart operations: OSS's own uploads (the upload id is OSS's), with S3's part
size and order rules applied here at completion."""

from __future__ import annotations

import asyncio
from typing import Any

from oss2.models import PartInfo as OssPart

from backends import errors as be
from backends.base import (
    ALWAYS,
    MIN_PART_SIZE,
    CompletedPart,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    PutBody,
    UploadInfo,
    UploadsPage,
    WriteCondition,
)
from backends.bridge import SyncReader
from backends.oss.core import OssCore
from backends.oss.support import (
    SizedBody,
    etag,
    from_http_date,
    from_unix,
    meta_to_headers,
    translate,
    unsized_chunks,
)


class OssMultipart(OssCore):
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
