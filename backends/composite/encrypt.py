"""The encrypt composite: object bodies are sealed on the way into a backend and opened on the way out.

One implementation of S3's server-side encryption for every provider: the provider stores only sealed
bytes (``sealed``) and, in the object's user metadata, the object's data key wrapped by the master key
(SSE-S3) or by the customer's key (SSE-C, never stored) (``keys``). Every object written through this
layer is encrypted: a request without SSE headers gets SSE-S3, as AWS S3 does since 2023.

What clients see is the plaintext: sizes, ranges and part sizes are plaintext sizes; the metadata this
layer keeps is hidden; ``ObjectMeta.encryption`` says how an object is encrypted. The ETag is S3's: for
SSE-S3 the plaintext's MD5 (a multipart object's MD5 of its parts' plaintext MD5s, ``-N``), for SSE-C
the store's ETag of the sealed bytes (not the plaintext's MD5, as on S3), as for an object of the
previous format (``sealedv1``, read as it was answered). Those MD5s and the part
lengths are sealed at the end of each segment, since a store takes metadata before the body; a
``manifest.Reader`` reads them back once per stored object and caches them by the store's ETag, so HEAD,
GET, listings and the ETags conditional requests compare all agree. A conditional write's If-Match is
checked against that ETag and handed to the store as the store's ETag, so the store still decides it in
the same step as the write.

Multipart: the wrapped data key travels in the upload id this layer hands out (``<store id>~<mode>~<key
id>~<wrapped key>``; it is sealed, so it tells a client nothing), since UploadPart has no other way to
learn it. Each part is one segment with its own random nonce base, of any size: the trailers give the
layout. UploadPart answers the store's ETag of the sealed part, which CompleteMultipartUpload passes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from backends import errors as be
from backends.base import (
    ALWAYS,
    Backend,
    ByteRange,
    ByteStream,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    ObjectPart,
    PutBody,
    VersionsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS
from backends.composite import keys, manifest, sealed, sealedv1
from backends.composite.encryptbase import _visible
from backends.composite.encryptconfig import MasterKey, Settings
from backends.composite.sealedmultipart import SealedMultipart
from backends.composite.sealedstreams import SealedBody, chain, close, opened
from backends.composite.streams import copy_across
from backends.sse import CustomerKey

__all__ = ["Encrypt", "MasterKey", "Settings", "build"]


class Encrypt(SealedMultipart):
    # -- objects ---------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        customer = self._request().write_key
        data_key, hidden = self._new_key(customer)
        stored_meta = meta.copy(user={**_visible(meta, None).user, **hidden}, encryption=None)
        store_cond = await self._store_condition(bucket, key, cond)
        sealed_body = SealedBody(body, data_key, 0)
        info = await self.inner.put_object(bucket, key, sealed_body, stored_meta, store_cond)
        md5s = [sealed_body.md5] if customer is None else None
        found = self.manifests.remember(info, manifest.build([sealed_body.header], md5s, info.etag))
        return self._present(replace(info, meta=stored_meta), found, customer)

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        customer = self._request().read_key
        info, found = await self._described(bucket, key, version_id)
        self._object_key(info, customer)  # the key must open it, as S3 checks on HEAD
        return self._present(info, found, customer)

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        """The store keeps the plaintext's checksums against its own ETag (the sealed bytes'), not the one
        clients see: asked with the stored object's description, and given only while it is still the
        object ``info`` describes."""
        stored, found = await self._described(bucket, key, info.version_id)
        if self._present(stored, found).etag != info.etag:
            return info  # replaced meanwhile: its checksums are not this object's
        kept = (await self.inner.stored_checksums(bucket, key, stored)).meta
        return replace(
            info, meta=replace(info.meta, checksums=kept.checksums, checksum_type=kept.checksum_type)
        )

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        customer = self._request().read_key
        if range is not None:
            return await self._settled(lambda: self._get_range(bucket, key, range, customer, version_id))
        return await self._settled(lambda: self._get_whole(bucket, key, customer, version_id))

    async def _get_whole(
        self, bucket: str, key: str, customer: CustomerKey | None, version_id: str | None
    ) -> GetResult:
        got = await self.inner.get_object(bucket, key, None, version_id)
        try:
            data_key = self._object_key(got.info, customer)
            if data_key is None:
                return got
            found = await self._manifest(bucket, key, got.info)
            if found is None:
                raise be.IntegrityError(detail="an encrypted object without a layout", backend=self.name)
            first = found.segments[0].header
            head, rest = await self._first_header(got.body, type(first))
            if head.pack() != first.pack():
                raise be.IntegrityError(
                    detail="the first header disagrees with the trailers", backend=self.name
                )
        except BaseException:
            await close(got.body)
            raise
        body = opened(
            chain(head.pack(), rest, got.body),
            sealedv1.opener(first, data_key, layout=[s.header for s in found.segments]),
            segments=len(found.segments),
            md5s=found.md5s,
        )
        return GetResult(self._present(got.info, found, customer), body)

    async def _first_header(
        self, body: ByteStream, header_type: type[sealed.Header]
    ) -> tuple[sealed.Header, bytes]:
        """The first segment's header (in the format the manifest found), read before any byte is served,
        so a truncated or foreign object fails with an error status instead of a cut-off body; and the
        bytes read past it."""
        buf = b""
        async for chunk in body:
            buf += chunk
            if len(buf) >= sealed.HEADER:
                break
        try:
            return header_type.parse(buf[: sealed.HEADER]), buf[sealed.HEADER :]
        except sealed.SealError as exc:
            raise be.IntegrityError(detail=str(exc), backend=self.name) from exc

    async def _get_range(
        self, bucket: str, key: str, range: ByteRange, customer: CustomerKey | None, version_id: str | None
    ) -> GetResult:
        # One version throughout: the stored head, the trailers and the bytes (the id pins the object;
        # without one the ETag checks catch a replacement).
        stored = await self.inner.head_object(bucket, key, version_id)
        version_id = version_id or stored.version_id
        data_key = self._object_key(stored, customer)
        if data_key is None:
            return await self.inner.get_object(bucket, key, range, version_id)
        found = await self._manifest(bucket, key, stored)
        if found is None:
            raise be.IntegrityError(detail="an encrypted object without a layout", backend=self.name)
        info = self._present(stored, found, customer)
        span = range.resolve(found.size)
        if span is None:
            raise be.InvalidRange(size=found.size, backend=self.name)
        first, last = span
        start, end = found.segment_at(first), found.segment_at(last)
        index = sealed.locate(first - start.plain, start.header)
        end_index = sealed.locate(last - end.plain, end.header)
        stored_first = start.at + sealed.package_offset(index)
        stored_last = (
            end.at + sealed.package_offset(end_index) + end.header.package_length(end_index) + sealed.TAG
        )
        got = await self.inner.get_object(bucket, key, ByteRange(stored_first, stored_last - 1), version_id)
        if got.info.etag != stored.etag:
            await close(got.body)
            raise manifest.Changed()
        after = [s.header for s in found.segments if s.at > start.at]
        opener = sealedv1.opener(start.header, data_key, start=(start.header, index), layout=after)
        skip = first - start.plain - index * sealed.PACKAGE
        body = opened(got.body, opener, skip=skip, length=last - first + 1)
        return GetResult(info, body, span)

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        """The parts' plaintext sizes, from the trailers: on every store, even one that cannot tell."""
        info, found = await self._described(bucket, key, version_id)
        if found is None:
            return await self.inner.object_parts(bucket, key, version_id=version_id)
        if found.single:
            return None
        try:  # the parts' checksums (of their plaintext) are the store's to keep, where it keeps them
            stored = await self.inner.object_parts(bucket, key, version_id=version_id)
        except be.NotImplementedByBackend:
            stored = None
        sums = {p.part_number: p.checksums for p in stored[1]} if stored is not None else {}
        return found.etag, [
            ObjectPart(n, s.header.length, sums.get(n, {})) for n, s in enumerate(found.segments, start=1)
        ]

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
        """An SSE-S3 object written by one PutObject, copied to SSE-S3, keeps its sealed bytes and wrapped
        key: the store copies it server-side (no key is bound to a name). Not a multipart one, even of one
        part: the store's copy would lose the multipart ETag that vouches for its part count. Anything else is decrypted with the
        source's key and sealed under a new data key, as a stream."""
        req = self._request()
        if req.write_key is None and req.read_key is None:
            source, found = await self._described(src_bucket, src_key, src_version_id)
            if source.meta.user.get(keys.META_MODE) == keys.MODE_S3 and found and found.single:
                store_cond = await self._store_condition(dst_bucket, dst_key, cond)
                stored_meta = None  # directive COPY: the store copies sealed bytes, wrapped key and tags
                if meta is not None:
                    hidden = {k: v for k, v in source.meta.user.items() if k.startswith(keys.META_PREFIX)}
                    stored_meta = meta.copy(user={**_visible(meta, None).user, **hidden}, encryption=None)
                info = await self.inner.copy_object(
                    src_bucket, src_key, dst_bucket, dst_key, stored_meta, store_cond, src_version_id
                )
                if found.md5s is None:  # an earlier format's ETag is the store's, the copy's own
                    found = replace(found, etag=info.etag)
                self.manifests.remember(info, found)  # the same bytes
                shown = info if stored_meta is None else replace(info, meta=stored_meta)
                return self._present(shown, found)
        return await copy_across(
            self, src_bucket, src_key, self, dst_bucket, dst_key, meta, cond, src_version_id
        )

    # -- listings --------------------------------------------------------------------------------
    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        page = await self.inner.list_objects(bucket, prefix, delimiter, start_after, max_keys)
        return replace(page, objects=await self._listed(bucket, page.objects))

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        page = await self.inner.list_object_versions(
            bucket, prefix, delimiter, key_marker, version_id_marker, max_keys
        )
        objects = [e.info for e in page.versions if not e.info.delete_marker]
        shown = iter(await self._listed(bucket, objects))
        versions = [e if e.info.delete_marker else replace(e, info=next(shown)) for e in page.versions]
        return replace(page, versions=versions)

    async def _listed(self, bucket: str, objects: list[ObjectInfo]) -> list[ObjectInfo]:
        """Listed objects as HEAD shows them. A listing carries no metadata, so an object's size and ETag
        come from its manifest: cached, or read from its trailers (one small read per segment, a few
        objects at a time) the first time this process lists it."""
        gate = asyncio.Semaphore(manifest.CONCURRENCY)

        async def one(info: ObjectInfo) -> ObjectInfo:
            found = self.manifests.cached(info)
            if found is False:
                async with gate:
                    try:
                        found = await self._manifest(bucket, info.key, info)
                    except (be.BackendError, manifest.Changed):
                        found = None  # unreadable or replaced meanwhile: shown as stored; GET tells
            if found is None or isinstance(found, bool):
                return replace(info, meta=_visible(info.meta, info.meta.encryption))
            return replace(
                info, size=found.size, etag=found.etag, meta=_visible(info.meta, info.meta.encryption)
            )

        return list(await asyncio.gather(*(one(info) for info in objects)))


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    """``io_threads`` is for backends that block; a composite does not."""
    return Encrypt(
        lookup(settings.backend),
        settings.keyring(),
        allow_sse_c_over_http=settings.allow_sse_c_over_http,
        name=name,
    )
