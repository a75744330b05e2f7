"""The multipart operations over an ObsClient (mixed into ``obs.ObsBackend`` over ``ObsOperations``).

The upload id is OBS's own, so any gateway process continues an upload. OBS accepts parts down to 100 KB
and sorts a completion's part list itself; S3's rules are applied here before the store is asked.
"""

from __future__ import annotations

import datetime as dt

from obs import CompleteMultipartUploadRequest, CompletePart
from obs.model import ListMultipartUploadsRequest

from backends import errors as be
from backends.base import (
    ALWAYS,
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
from backends.obs import wire
from backends.obs.body import ExactReader, Spooled, open_body
from backends.obs.errors import check
from backends.obs.ops import ObsOperations
from backends.wire.etag import strip_etag


class ObsMultipart(ObsOperations):
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        result = await self._ok(
            "initiateMultipartUpload",
            bucket,
            key,
            metadata=wire.user_metadata(meta),
            contentType=wire.content_type(meta),
            extensionHeaders=wire.extension_headers(meta, self.signature),
            not_found=be.NoSuchBucket,
        )
        return str(result.body.uploadId)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        if not upload_id:
            raise be.NoSuchUpload(backend=self.name)
        source = open_body(body)
        if (
            body.size is None
        ):  # learn the length first: a part is at most 5 GiB, spooled to disk past part_size
            spooled = await self._read_body(source, Spooled, self.part_size)
            reader = ExactReader(spooled, spooled.size, final=True)
        else:
            reader = ExactReader(source, body.size, final=True)
        size = reader.size
        result = await self._upload(
            reader,
            lambda: self.client.uploadPart(
                bucket, key, part_number, upload_id, content=reader, partSize=size
            ),
            be.NoSuchUpload,
        )
        etag = strip_etag(result.body.etag)
        now = dt.datetime.now(dt.timezone.utc)
        return PartInfo(part_number, etag, size, now)

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
        if not upload_id:
            raise be.NoSuchUpload(backend=self.name)
        if src_range is None:
            size = (await self.head_object(src_bucket, src_key)).size
        else:
            size = src_range[1] - src_range[0] + 1
        copy_range = f"bytes={src_range[0]}-{src_range[1]}" if src_range else None
        result = await self._call(
            self.client.copyPart, bucket, key, part_number, upload_id, f"{src_bucket}/{src_key}", copy_range
        )
        check(result, self.name, not_found=be.NoSuchUpload)
        return PartInfo(
            part_number, strip_etag(result.body.etag), size, wire.sdk_date(result.body.lastModified)
        )

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        cond.refuse(
            "CompleteMultipartUpload", self.name, "atomically by OBS (its writes take no precondition)"
        )
        if not upload_id:
            raise be.NoSuchUpload(backend=self.name)
        numbers = [p.part_number for p in parts]
        if any(a >= b for a, b in zip(numbers, numbers[1:], strict=False)):
            raise be.InvalidPartOrder(backend=self.name)  # the SDK sorts parts itself, hiding the error
        request = CompleteMultipartUploadRequest(
            parts=[CompletePart(partNum=p.part_number, etag=f'"{strip_etag(p.etag)}"') for p in parts]
        )
        done = await self._ok(
            "completeMultipartUpload", bucket, key, upload_id, request, not_found=be.NoSuchUpload
        )
        return await self._written(bucket, key, done.body.versionId)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        if not upload_id:
            raise be.NoSuchUpload(backend=self.name)
        await self._ok("abortMultipartUpload", bucket, key, upload_id, not_found=be.NoSuchUpload)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        if not upload_id:
            raise be.NoSuchUpload(backend=self.name)
        result = await self._ok(
            "listParts",
            bucket,
            key,
            upload_id,
            maxParts=max_parts,
            partNumberMarker=part_number_marker or None,
            not_found=be.NoSuchUpload,
        )
        body = result.body
        parts = [
            PartInfo(int(p.partNumber), strip_etag(p.etag), int(p.size or 0), wire.sdk_date(p.lastModified))
            for p in body.parts or []
        ]
        truncated = bool(body.isTruncated)
        next_marker = body.nextPartNumberMarker if truncated else None
        if truncated and next_marker is None and parts:
            next_marker = parts[-1].part_number
        return PartsPage(parts, truncated, next_marker)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        request = ListMultipartUploadsRequest(
            prefix=prefix or None,
            delimiter=delimiter or None,
            key_marker=key_marker or None,
            upload_id_marker=upload_id_marker or None,
            max_uploads=max_uploads,
        )
        result = await self._ok("listMultipartUploads", bucket, request, not_found=be.NoSuchBucket)
        body = result.body
        uploads = [UploadInfo(u.key, u.uploadId, wire.sdk_date(u.initiated)) for u in body.upload or []]
        uploads.sort(key=lambda u: u.key.encode())  # stable: uploads of one key keep the store's order
        truncated = bool(body.isTruncated)
        return UploadsPage(
            uploads,
            [p.prefix for p in body.commonPrefixs or []],
            truncated,
            (body.nextKeyMarker or (uploads[-1].key if uploads else None)) if truncated else None,
            (body.nextUploadIdMarker or (uploads[-1].upload_id if uploads else None)) if truncated else None,
        )
