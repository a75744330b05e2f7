"""The encrypt composite's multipart half: each part sealed as its own segment, of any size S3 accepts.

A part is sealed like a PutObject body, under the upload's data key (carried in the upload id, see
``uploadtoken``) with its own random nonce base, and closed by a trailer holding its plaintext length
and MD5. So parts need not line up with the 64 KiB packages: once the upload is complete, the trailers
give every part's place for ranged reads and the object's ETag (the MD5 of the parts' plaintext MD5s,
``-N``, as S3 computes it). Complete reads those trailers at once, knowing the parts' stored sizes.
"""

from __future__ import annotations

from dataclasses import replace

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
    WriteCondition,
)
from backends.composite import keys, manifest, sealed
from backends.composite.encryptbase import EncryptBase, _visible
from backends.composite.sealedstreams import SealedBody
from backends.composite.streams import part_copy_across
from backends.composite.uploadtoken import UploadToken


class SealedMultipart(EncryptBase):
    """The multipart operations of the encrypt layer."""

    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        if meta.checksum_type == "FULL_OBJECT":
            # The store combines part CRCs with the sizes of its (sealed, larger) parts: a wrong value.
            raise be.NotImplementedByBackend(
                "FULL_OBJECT checksums of encrypted multipart uploads are not implemented.", backend=self.name
            )
        customer = self._request().write_key
        data_key, hidden = self._new_key(customer)
        stored_meta = meta.copy(user={**_visible(meta, None).user, **hidden}, encryption=None)
        upload_id = await self.inner.create_multipart_upload(bucket, key, stored_meta)
        return UploadToken(upload_id, hidden[keys.META_MODE], hidden.get(keys.META_KEY_ID, ""),
                           hidden[keys.META_WRAPPED]).encode()  # fmt: skip

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        token = UploadToken.decode(upload_id)
        try:
            data_key = self._open_key(token.mode, token.key_id, token.wrapped, self._request().write_key)
        except be.IntegrityError as exc:  # an SSE-S3 key no master key wrapped: not an id handed out
            raise be.NoSuchUpload(detail="not an upload id of the encrypt layer", backend=self.name) from exc
        part = await self.inner.upload_part(
            bucket, key, token.upload_id, part_number, SealedBody(body, data_key, part_number)
        )
        return replace(part, size=body.size or 0)

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
        return await part_copy_across(
            self, src_bucket, src_key, src_range, self, bucket, key, upload_id, part_number
        )

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        token = UploadToken.decode(upload_id)
        customer = self._request().write_key
        if token.mode == keys.MODE_C and customer is not None:
            self._open_key(token.mode, token.key_id, token.wrapped, customer)
        stored = await self._stored_part_sizes(bucket, key, token.upload_id)
        named = [stored.get(p.part_number) for p in parts]
        for size in named[:-1]:
            if size is not None and sealed.plaintext_size(size) < MIN_PART_SIZE:
                raise be.EntityTooSmall(backend=self.name)
        store_cond = await self._store_condition(bucket, key, cond)
        info = await self.inner.complete_multipart_upload(bucket, key, token.upload_id, parts, store_cond)
        sizes = [size or 0 for size in named]
        info = replace(info, size=sum(sizes))
        try:
            found = await self._manifest(bucket, key, info, sizes)
        except manifest.Changed:  # replaced the moment it landed: what landed is described by its parts
            found = None
        shown = self._present(replace(info, meta=ObjectMeta()), found, customer)
        encryption = self._encryption(token.mode, customer)
        total = sum(sealed.plaintext_size(size) for size in sizes)
        meta = replace(
            shown.meta,
            encryption=encryption,
            checksums=info.meta.checksums,  # the plaintext parts' checksums, combined by the store
            checksum_type=info.meta.checksum_type,
        )
        return replace(shown, size=total, meta=meta)

    async def _stored_part_sizes(self, bucket: str, key: str, upload_id: str) -> dict[int, int]:
        sizes: dict[int, int] = {}
        marker = 0
        while True:
            page = await self.inner.list_parts(bucket, key, upload_id, marker)
            for part in page.parts:
                self._part_size(part.size)  # an IntegrityError for a part this layer did not seal
                sizes[part.part_number] = part.size
            if not page.is_truncated or page.next_part_number_marker is None:
                return sizes
            marker = page.next_part_number_marker

    def _part_size(self, stored: int) -> int:
        try:
            return sealed.plaintext_size(stored)
        except sealed.SealError as exc:
            raise be.IntegrityError(detail=str(exc), backend=self.name) from exc

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self.inner.abort_multipart_upload(bucket, key, UploadToken.inner_id(upload_id))

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number_marker: int = 0,
        max_parts: int = 1000,
    ) -> PartsPage:
        inner_id = UploadToken.inner_id(upload_id)
        page = await self.inner.list_parts(bucket, key, inner_id, part_number_marker, max_parts)
        return replace(page, parts=[replace(p, size=self._part_size(p.size)) for p in page.parts])
