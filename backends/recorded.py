"""A provider backend with per-object records in its metadata bucket (``backends.objectrecords``).

One implementation for the s3, oss and obs backends, wrapped around each by its ``build`` when
``meta_bucket`` is set (without it the provider answers as before, and declares so). It adds what S3
answers with and those stores forget:

- checksums: an upload's verified ``x-amz-checksum-*`` values (a PUT's, a part's, and the multipart
  object's COMPOSITE or FULL_OBJECT one) are served on HEAD/GET and GetObjectAttributes;
- part boundaries: a completed multipart object's part sizes and checksums (``object_parts``);
- a repeated CompleteMultipartUpload of the same upload answers the same ETag and version again.

Cost: a record is written only when there is something to keep (a body with checksums, a completed
multipart object, an upload that asked for a checksum). A plain HEAD or GET reads no record: the
checksums are looked up only for the answers that show them (``stored_checksums``), and part boundaries
only for part reads and GetObjectAttributes. A delete removes the version's record.
"""

from __future__ import annotations

from dataclasses import replace

from backends import errors as be
from backends.base import (
    ALWAYS,
    Backend,
    Capabilities,
    CompletedPart,
    DeleteResult,
    ObjectInfo,
    ObjectMeta,
    ObjectPart,
    PartInfo,
    PartsPage,
    PutBody,
    WriteCondition,
)
from backends.composite.forwarding import Forwarding
from backends.multipartsums import multipart_checksums
from backends.objectrecords import ObjectRecord, PartRecord, RecordStore, UploadSpec, version_name


def recorded(backend: Backend, meta_bucket: str | None) -> Backend:
    """``backend`` with object records in ``meta_bucket``; unchanged without one."""
    return Recorded(backend, meta_bucket) if meta_bucket else backend


class Recorded(Forwarding):
    """Forwards every operation to the provider, keeping object records on the way (see the module)."""

    def __init__(self, inner: Backend, meta_bucket: str):
        super().__init__(inner)
        self.meta_bucket = meta_bucket
        self.records = RecordStore(inner, meta_bucket)
        self.capabilities = replace(inner.capabilities, stores_checksums=True)

    def capabilities_for(self, bucket: str) -> Capabilities:
        return replace(self.inner.capabilities_for(bucket), stores_checksums=True)

    def __repr__(self) -> str:
        return f"Recorded({self.inner!r}, meta_bucket={self.meta_bucket!r})"

    # -- reads ---------------------------------------------------------------------------------------
    async def _record(self, bucket: str, info: ObjectInfo) -> ObjectRecord | None:
        """The record of ``info``'s object; None when there is none, or only a stale one."""
        record = await self.records.object_record(bucket, info.key, version_name(info.version_id))
        return record if record is not None and record.describes(info) else None

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        record = await self._record(bucket, info)
        return record.apply(info) if record is not None else info

    async def _recorded_info(
        self, bucket: str, key: str, version_id: str | None
    ) -> tuple[ObjectInfo, ObjectRecord | None]:
        info = await self.inner.head_object(bucket, key, version_id)
        return info, await self._record(bucket, info)

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        info, record = await self._recorded_info(bucket, key, version_id)
        if record is not None and record.parts is not None:
            return info.etag, record.parts
        try:
            return await self.inner.object_parts(bucket, key, version_id=version_id)
        except be.NotImplementedByBackend:
            if "-" in info.etag:
                raise
            return None  # a single PUT: not uploaded in parts, whatever the store can tell

    # -- writes --------------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        info = await self.inner.put_object(bucket, key, body, meta, cond)
        sums = dict(body.checksums)  # complete now that the body ended
        if sums:
            record = ObjectRecord(key, info.etag, version_name(info.version_id), sums)
            await self.records.put_object_record(bucket, record)
            record.apply(info)
        return info

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
        """The copy keeps the source's checksums (they describe the same bytes), as fs does: recorded
        for the destination when the source's record has the copy's ETag (the same bytes for sure)."""
        info = await self.inner.copy_object(
            src_bucket, src_key, dst_bucket, dst_key, meta, cond, src_version_id
        )
        source = await self.records.object_record(src_bucket, src_key, version_name(src_version_id))
        if source is not None and source.checksums and source.etag == info.etag:
            version = version_name(info.version_id)
            record = ObjectRecord(dst_key, info.etag, version, source.checksums, source.checksum_type)
            await self.records.put_object_record(dst_bucket, record)
            record.apply(info)
        return info

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        result = await self.inner.delete_object(bucket, key, version_id)
        await self._forget_deleted(bucket, key, version_id, result)
        return result

    async def delete_object_bypassing_governance(
        self, bucket: str, key: str, version_id: str
    ) -> DeleteResult:
        result = await self.inner.delete_object_bypassing_governance(bucket, key, version_id)
        await self._forget_deleted(bucket, key, version_id, result)
        return result

    async def _forget_deleted(
        self, bucket: str, key: str, version_id: str | None, result: DeleteResult | None
    ) -> None:
        """Remove the record of the version a delete removed (a delete marker removes none)."""
        if version_id is None and result is not None and result.delete_marker:
            return
        await self.records.forget_object(bucket, key, version_name(version_id))

    # -- multipart -----------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        upload_id = await self.inner.create_multipart_upload(bucket, key, meta)
        if meta.checksums or meta.checksum_type:
            spec = UploadSpec(list(meta.checksums), meta.checksum_type)
            try:
                await self.records.put_spec(bucket, upload_id, spec)
            except BaseException:
                await self.inner.abort_multipart_upload(bucket, key, upload_id)
                raise
        return upload_id

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        part = await self.inner.upload_part(bucket, key, upload_id, part_number, body)
        sums = dict(body.checksums)
        if sums:
            await self.records.put_part(bucket, upload_id, part_number, PartRecord(part.etag, sums))
            part.checksums = {**part.checksums, **sums}
        return part

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        page = await self.inner.list_parts(bucket, key, upload_id, part_number_marker, max_parts)
        if page.parts:
            found = await self.records.upload(bucket, upload_id, [p.part_number for p in page.parts])
            for part in page.parts:
                kept = found.parts.get(part.part_number)
                if kept is not None and kept.etag == part.etag:
                    part.checksums = {**part.checksums, **kept.checksums}
        return page

    async def _stored_parts(self, bucket: str, key: str, upload_id: str) -> dict[int, PartInfo]:
        parts: dict[int, PartInfo] = {}
        marker = 0
        while True:
            page = await self.inner.list_parts(bucket, key, upload_id, marker, 1000)
            parts.update((p.part_number, p) for p in page.parts)
            if not page.is_truncated or page.next_part_number_marker is None:
                return parts
            marker = page.next_part_number_marker

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        try:
            stored = await self._stored_parts(bucket, key, upload_id)
        except (be.NoSuchUpload, be.NoSuchKey):  # Ceph RGW answers NoSuchKey for a finished upload
            return await self._completed_before(bucket, key, upload_id)
        chosen = [stored[p.part_number] for p in parts if p.part_number in stored]
        if len(chosen) != len(parts):  # the store's own InvalidPart
            return await self.inner.complete_multipart_upload(bucket, key, upload_id, parts, cond)
        found = await self.records.upload(bucket, upload_id)
        layout: list[ObjectPart] = []  # numbered by place, as GetObject's partNumber counts them
        for place, part in enumerate(chosen, start=1):
            kept = found.parts.get(part.part_number)
            sums = kept.checksums if kept is not None and kept.etag == part.etag else {}
            layout.append(ObjectPart(place, part.size, dict(sums)))
        spec = found.spec or UploadSpec([], None)
        sums, kind = multipart_checksums(
            [(p.size, p.checksums) for p in layout], spec.algorithms, spec.checksum_type, parts
        )
        info = await self.inner.complete_multipart_upload(bucket, key, upload_id, parts, cond)
        record = ObjectRecord(key, info.etag, version_name(info.version_id), sums, kind, layout, upload_id)
        await self.records.put_object_record(bucket, record)
        if found.keys:
            await self.records.forget_upload(bucket, upload_id, found.keys)
        return record.apply(info)

    async def _completed_before(self, bucket: str, key: str, upload_id: str) -> ObjectInfo:
        """A CompleteMultipartUpload repeated after it succeeded (its answer was lost): the same answer,
        while the object it made is still the key's current one; NoSuchUpload otherwise."""
        try:
            info, record = await self._recorded_info(bucket, key, None)
        except be.NoSuchKey:
            raise be.NoSuchUpload(backend=self.name) from None
        if record is None or record.upload_id != upload_id:
            raise be.NoSuchUpload(backend=self.name)
        return record.apply(info)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self.inner.abort_multipart_upload(bucket, key, upload_id)
        await self.records.forget_upload(bucket, upload_id)
