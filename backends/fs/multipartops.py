"""The fs backend's multipart operations: uploads staged under ``.s3bridge/uploads`` (see fs multipart),
published by the same one-rename commit as a PutObject."""

from __future__ import annotations

import contextlib
import os
import time

from backends import errors as be
from backends.base import (
    ALWAYS,
    CompletedPart,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    PutBody,
    UploadsPage,
    WriteCondition,
)
from backends.fs.core import FsCore
from backends.fs.format import CorruptObject, Record, TempFile, meta_to_dict, read_record_at
from backends.fs.multipart import (
    Upload,
    check_completion,
    multipart_etag,
    object_checksums,
    part_name,
    uploads_page,
)
from backends.fs.parts import PARTS_FIELD, part_layout


class FsMultipart(FsCore):
    """Create, upload (and copy) parts, complete, abort, list parts and uploads."""

    # -- multipart -------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        def create() -> str:
            self._object_path(bucket, key)
            return self.uploads.create(bucket, key, meta)

        return await self.io.checked("creating an upload", create)

    def _upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        self._bucket_dir(bucket)
        return self.uploads.get(bucket, key, upload_id)

    async def _store_part(
        self, upload_path: str, number: int, temp: TempFile, checksums: dict[str, str]
    ) -> PartInfo:
        if not 1 <= number <= 10000:
            await self.io.run(temp.discard)
            raise be.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive.")
        record = Record(temp.etag, time.time_ns(), {"checksums": checksums}, size=temp.size)
        try:
            await self._commit(temp, record, upload_path, [part_name(number)])
        except be.NoSuchBucket:
            raise be.NoSuchUpload(detail="aborted while the part was uploading", backend=self.name) from None
        return record.part_info(number)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        upload = await self.io.run(self._upload, bucket, key, upload_id)
        temp = await self._spool(body)
        return await self._store_part(upload.path, part_number, temp, body.checksums)

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
        upload = await self.io.run(self._upload, bucket, key, upload_id)
        fd, source = await self._open_async(src_bucket, src_key)
        try:
            first, last = src_range if src_range is not None else (0, source.size - 1)
            if src_range is not None and not 0 <= first <= last < source.size:
                raise be.InvalidRange(size=source.size, backend=self.name)
            temp = await self.io.checked("creating a temporary file", TempFile, self.tmp)
            await self._copy_into(temp, fd, first, last + 1)
        finally:
            os.close(fd)
        return await self._store_part(upload.path, part_number, temp, {})

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        base, components = await self.io.run(self._object_path, bucket, key)
        try:
            upload = await self.io.run(self._upload, bucket, key, upload_id)
        except be.NoSuchUpload:
            done = await self.io.run(self.completions.find, bucket, key, upload_id)
            if done is None:
                raise
            return done  # a retry of a completion that succeeded: the same answer
        chosen = await self.io.run(check_completion, upload, parts)
        records = [record for _, record in chosen]
        sums, kind = object_checksums(records, upload.object_meta(), parts)
        temp = await self.io.checked("creating a temporary file", lambda: TempFile(self.tmp, hash_md5=False))
        for path, record in chosen:
            try:
                fd = await self.io.run(os.open, path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                await self.io.run(temp.discard)
                raise be.InvalidPart(
                    detail="a part was replaced or aborted meanwhile", backend=self.name
                ) from None
            try:
                await self._copy_into(temp, fd, 0, record.size)
            finally:
                os.close(fd)
        meta = upload.object_meta().copy(checksums=sums, checksum_type=kind)
        stored = {**meta_to_dict(meta), PARTS_FIELD: part_layout(chosen)}
        record = Record(multipart_etag(records), time.time_ns(), stored, size=temp.size)
        await self._commit(temp, record, base, components, (bucket, key, cond))
        await self.io.checked(
            "recording a completion", self.completions.remember, bucket, upload_id, key, record, self.tmp
        )
        with contextlib.suppress(be.NoSuchUpload):
            await self.io.run(self.uploads.remove, upload)
        return record.object_info(key)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        upload = await self.io.run(self._upload, bucket, key, upload_id)
        await self.io.run(self.uploads.remove, upload)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        def page() -> PartsPage:
            upload = self._upload(bucket, key, upload_id)
            parts: list[PartInfo] = []
            for number, path in upload.parts():
                if number <= part_number_marker:
                    continue
                if len(parts) == max_parts:
                    return PartsPage(parts, True, parts[-1].part_number if parts else part_number_marker)
                with contextlib.suppress(FileNotFoundError, CorruptObject):
                    parts.append(read_record_at(path).part_info(number))
            return PartsPage(parts, False)

        return await self.io.run(page)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        def page() -> UploadsPage:
            self._bucket_dir(bucket)
            uploads = self.uploads.all_uploads(bucket, prefix)
            return uploads_page(uploads, prefix, delimiter, key_marker, upload_id_marker, max_uploads)

        return await self.io.run(page)
