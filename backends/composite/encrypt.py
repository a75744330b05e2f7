"""The encrypt composite: object bodies are sealed on the way into a backend and opened on the way out.

One implementation of S3's server-side encryption for every provider: the provider stores only sealed
bytes (``sealed``) and, in the object's user metadata, the object's data key wrapped by the master key
(SSE-S3) or by the customer's key (SSE-C, never stored) (``keys``). Every object written through this
layer is encrypted: a request without SSE headers gets SSE-S3, as AWS S3 does since 2023.

What clients see is the plaintext: sizes, ranges and part sizes are plaintext sizes; the metadata this
layer keeps is hidden; ``ObjectMeta.encryption`` says how an object is encrypted. The ETag is the
store's ETag of the sealed bytes (an MD5 that is not the plaintext's, as S3 answers for SSE-C and
SSE-KMS): it is what listings show and what conditional requests compare, so every answer agrees.

Multipart: the wrapped data key travels in the upload id this layer hands out (``<store id>~<mode>~<key
id>~<wrapped key>``; it is sealed, so it tells a client nothing), since UploadPart has no other way to
learn it. Each part is one segment with its own random nonce base. Every part but the last must be a
multiple of 64 KiB (any MiB-sized part is), so an object's plaintext size follows from its stored size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Literal

import pydantic

from backends import errors as be
from backends.base import (
    ALWAYS,
    MIN_PART_SIZE,
    Backend,
    ByteRange,
    ByteStream,
    Capabilities,
    CompletedPart,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    PutBody,
    VersionsPage,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS
from backends.composite import keys, sealed
from backends.composite.forwarding import Forwarding
from backends.composite.sealedstreams import SealedBody, chain, close, opened
from backends.composite.streams import copy_across, part_copy_across
from backends.composite.uploadtoken import UploadToken
from backends.sse import CustomerKey, Encryption, SseRequest, requested

_INSECURE = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
_NEEDS_KEY = (
    "The object was stored using a form of Server Side Encryption. "
    "The correct parameters must be provided to retrieve the object."
)
_NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
_PART_SIZE = "Through an encrypting backend every part but the last must be a multiple of 64 KiB."


def segments_of(info: ObjectInfo) -> int:
    """Segments of a stored object: from this layer's metadata, else the ``-N`` of a multipart ETag."""
    recorded = info.meta.user.get(keys.META_SEGMENTS)
    if recorded and recorded.isdigit():
        return int(recorded)
    _, dash, count = info.etag.rpartition("-")
    return int(count) if dash and count.isdigit() else 1


def _visible(meta: ObjectMeta, encryption: Encryption | None) -> ObjectMeta:
    user = {k: v for k, v in meta.user.items() if not k.startswith(keys.META_PREFIX)}
    return meta.copy(user=user, encryption=encryption)


class Encrypt(Forwarding):
    def __init__(
        self,
        inner: Backend,
        keyring: keys.Keyring,
        *,
        allow_sse_c_over_http: bool = False,
        name: str | None = None,
    ):
        super().__init__(inner, name=name)
        self.keyring = keyring
        self.allow_sse_c_over_http = allow_sse_c_over_http
        self.capabilities = replace(inner.capabilities, encryption=True)

    def capabilities_for(self, bucket: str) -> Capabilities:
        return replace(self.inner.capabilities_for(bucket), encryption=True)

    # -- keys ------------------------------------------------------------------------------------
    def _request(self) -> SseRequest:
        req = requested.get()
        if (req.write_key or req.read_key) and not req.secure and not self.allow_sse_c_over_http:
            raise be.InvalidRequest(_INSECURE, backend=self.name)
        return req

    def _new_key(self, customer: CustomerKey | None) -> tuple[bytes, dict[str, str]]:
        """A fresh data key and the metadata that stores it wrapped."""
        data_key = keys.new_data_key()
        if customer is not None:
            wrapped = keys.wrap(customer.key, data_key, keys.MODE_C)
            return data_key, {keys.META_MODE: keys.MODE_C, keys.META_WRAPPED: wrapped}
        key_id, wrapped = self.keyring.wrap(data_key)
        return data_key, {keys.META_MODE: keys.MODE_S3, keys.META_KEY_ID: key_id, keys.META_WRAPPED: wrapped}

    def _open_key(self, mode: str, key_id: str, wrapped: str, customer: CustomerKey | None) -> bytes:
        """The data key of an object or upload, with S3's answers for a missing or wrong customer key."""
        try:
            if mode == keys.MODE_C:
                if customer is None:
                    raise be.InvalidRequest(_NEEDS_KEY, backend=self.name)
                return keys.unwrap(customer.key, wrapped, keys.MODE_C)
            if mode != keys.MODE_S3:
                raise be.IntegrityError(detail=f"unknown encryption mode {mode!r}", backend=self.name)
            if customer is not None:
                raise be.InvalidRequest(_NOT_APPLICABLE, backend=self.name)
            return self.keyring.unwrap(key_id, wrapped)
        except keys.WrongKey as exc:
            if mode == keys.MODE_C:
                raise be.AccessDenied(detail=str(exc), backend=self.name) from exc
            raise be.IntegrityError(detail=str(exc), backend=self.name) from exc

    def _object_key(self, info: ObjectInfo, customer: CustomerKey | None) -> bytes | None:
        """The data key of a stored object, None for one stored before this layer (served as it is)."""
        user = info.meta.user
        mode = user.get(keys.META_MODE)
        if mode is None:
            return None
        return self._open_key(mode, user.get(keys.META_KEY_ID, ""), user.get(keys.META_WRAPPED, ""), customer)

    @staticmethod
    def _encryption(mode: str | None, customer: CustomerKey | None) -> Encryption | None:
        if mode is None:
            return None
        return Encryption(customer.md5 if mode == keys.MODE_C and customer is not None else None)

    def _present(self, info: ObjectInfo, customer: CustomerKey | None = None) -> ObjectInfo:
        """The object as clients see it: plaintext size, hidden metadata stripped."""
        mode = info.meta.user.get(keys.META_MODE)
        size = info.size
        if mode is not None:
            try:
                size = sealed.plaintext_size(info.size, segments_of(info))
            except sealed.SealError as exc:
                raise be.IntegrityError(detail=str(exc), backend=self.name) from exc
        return replace(info, size=size, meta=_visible(info.meta, self._encryption(mode, customer)))

    # -- objects ---------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        customer = self._request().write_key
        data_key, hidden = self._new_key(customer)
        stored_meta = meta.copy(user={**_visible(meta, None).user, **hidden}, encryption=None)
        info = await self.inner.put_object(bucket, key, SealedBody(body, data_key, 0), stored_meta, cond)
        mode = hidden[keys.META_MODE]
        return replace(info, size=body.size or 0, meta=_visible(info.meta, self._encryption(mode, customer)))

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        customer = self._request().read_key
        info = await self.inner.head_object(bucket, key, version_id)
        self._object_key(info, customer)  # the key must open it, as S3 checks on HEAD
        return self._present(info, customer)

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        customer = self._request().read_key
        if range is not None:
            return await self._get_range(bucket, key, range, customer, version_id)
        got = await self.inner.get_object(bucket, key, None, version_id)
        try:
            data_key = self._object_key(got.info, customer)
        except BaseException:
            await close(got.body)
            raise
        if data_key is None:
            return got
        try:
            info = self._present(got.info, customer)
            head, rest = await self._first_header(got.body)
            if segments_of(got.info) == 1 and head.length != info.size:
                raise be.IntegrityError(detail="the stored size disagrees with the header", backend=self.name)
        except BaseException:
            await close(got.body)
            raise
        body = opened(
            chain(head.pack(), rest, got.body), sealed.Opener(data_key), segments=segments_of(got.info)
        )
        return GetResult(info, body)

    async def _first_header(self, body: ByteStream) -> tuple[sealed.Header, bytes]:
        """The first segment's header, read before any byte is served, so a truncated or foreign object
        fails with an error status instead of a cut-off body; and the bytes read past it."""
        buf = b""
        async for chunk in body:
            buf += chunk
            if len(buf) >= sealed.HEADER:
                break
        try:
            return sealed.Header.parse(buf[: sealed.HEADER]), buf[sealed.HEADER :]
        except sealed.SealError as exc:
            raise be.IntegrityError(detail=str(exc), backend=self.name) from exc

    async def _get_range(
        self, bucket: str, key: str, range: ByteRange, customer: CustomerKey | None, version_id: str | None
    ) -> GetResult:
        # One version throughout: the stored head, the layout reads and the bytes (the id pins the object;
        # without one the ETag check below catches a replacement).
        stored = await self.inner.head_object(bucket, key, version_id)
        version_id = version_id or stored.version_id
        data_key = self._object_key(stored, customer)
        if data_key is None:
            return await self.inner.get_object(bucket, key, range, version_id)
        info = self._present(stored, customer)
        span = range.resolve(info.size)
        if span is None:
            raise be.InvalidRange(size=info.size, backend=self.name)
        first, last = span
        layout = await self._layout(bucket, key, last, version_id)
        at, plain_at, header = next(seg for seg in layout if seg[1] + seg[2].length > first)
        index = sealed.locate(first - plain_at, header)
        end_at, end_plain, end_header = layout[-1]
        end_index = sealed.locate(last - end_plain, end_header)
        stored_first = at + sealed.package_offset(index)
        stored_last = (
            end_at + sealed.package_offset(end_index) + end_header.package_length(end_index) + sealed.TAG
        )
        got = await self.inner.get_object(bucket, key, ByteRange(stored_first, stored_last - 1), version_id)
        if got.info.etag != stored.etag:
            await close(got.body)
            raise be.PreconditionFailed(detail="the object changed during a ranged read", backend=self.name)
        opener = sealed.Opener(data_key, start=(header, index))
        skip = first - plain_at - index * sealed.PACKAGE
        body = opened(got.body, opener, skip=skip, length=last - first + 1)
        return GetResult(info, body, span)

    async def _layout(
        self, bucket: str, key: str, until: int, version_id: str | None = None
    ) -> list[tuple[int, int, sealed.Header]]:
        """(stored offset, plaintext offset, header) of each segment up to the one holding plaintext
        ``until``: one small read per segment (a multipart object's parts may differ in size)."""
        layout: list[tuple[int, int, sealed.Header]] = []
        at = plain = 0
        while True:
            got = await self.inner.get_object(bucket, key, ByteRange(at, at + sealed.HEADER - 1), version_id)
            raw = b"".join([chunk async for chunk in got.body])
            try:
                header = sealed.Header.parse(raw)
            except sealed.SealError as exc:
                raise be.IntegrityError(detail=str(exc), backend=self.name) from exc
            layout.append((at, plain, header))
            if plain + header.length > until:
                return layout
            at, plain = at + header.stored_size, plain + header.length

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
        """An SSE-S3 object copied to SSE-S3 keeps its sealed bytes and wrapped key: the store copies it
        server-side (no key is bound to a name). Anything else is decrypted with the source's key and
        sealed under a new data key, as a stream."""
        req = self._request()
        if req.write_key is None and req.read_key is None:
            source = await self.inner.head_object(src_bucket, src_key, src_version_id)
            if (
                source.meta.user.get(keys.META_MODE) == keys.MODE_S3
                and segments_of(source) == 1
                and meta is None
            ):
                # Everything copied (directive COPY): the store copies the sealed bytes, wrapped key and
                # tags as they are.
                info = await self.inner.copy_object(
                    src_bucket, src_key, dst_bucket, dst_key, None, cond, src_version_id
                )
                return self._present(info)
            if source.meta.user.get(keys.META_MODE) == keys.MODE_S3 and segments_of(source) == 1:
                hidden = {k: v for k, v in source.meta.user.items() if k.startswith(keys.META_PREFIX)}
                base = source.meta if meta is None else meta
                stored_meta = base.copy(user={**_visible(base, None).user, **hidden}, encryption=None)
                info = await self.inner.copy_object(
                    src_bucket, src_key, dst_bucket, dst_key, stored_meta, cond, src_version_id
                )
                return self._present(replace(info, meta=stored_meta))
        return await copy_across(
            self, src_bucket, src_key, self, dst_bucket, dst_key, meta, cond, src_version_id
        )

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        page = await self.inner.list_objects(bucket, prefix, delimiter, start_after, max_keys)
        return replace(page, objects=[self._listed(info) for info in page.objects])

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
        versions = [
            e if e.info.delete_marker else replace(e, info=self._listed(e.info)) for e in page.versions
        ]
        return replace(page, versions=versions)

    def _listed(self, info: ObjectInfo) -> ObjectInfo:
        """A listed object's plaintext size (a listing carries no metadata: the stored size says it)."""
        try:
            size = sealed.plaintext_size(info.size, segments_of(info))
        except sealed.SealError:
            size = info.size  # not sealed: stored before this layer
        return replace(info, size=size, meta=_visible(info.meta, info.meta.encryption))

    # -- multipart -------------------------------------------------------------------------------
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
        data_key = self._open_key(token.mode, token.key_id, token.wrapped, self._request().write_key)
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
        sizes = await self._part_sizes(bucket, key, token.upload_id)
        named = [sizes.get(p.part_number) for p in parts]
        for size in named[:-1]:
            if size is not None and size < MIN_PART_SIZE:
                raise be.EntityTooSmall(backend=self.name)
            if size is not None and size % sealed.PACKAGE:
                raise be.InvalidRequest(_PART_SIZE, backend=self.name)
        info = await self.inner.complete_multipart_upload(bucket, key, token.upload_id, parts, cond)
        total = sum(size or 0 for size in named)
        return replace(info, size=total, meta=_visible(info.meta, self._encryption(token.mode, customer)))

    async def _part_sizes(self, bucket: str, key: str, upload_id: str) -> dict[int, int]:
        sizes: dict[int, int] = {}
        marker = 0
        while True:
            page = await self.inner.list_parts(bucket, key, upload_id, marker)
            for part in page.parts:
                sizes[part.part_number] = self._part_size(part.size)
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
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        inner_id = UploadToken.inner_id(upload_id)
        page = await self.inner.list_parts(bucket, key, inner_id, part_number_marker, max_parts)
        return replace(page, parts=[replace(p, size=self._part_size(p.size)) for p in page.parts])


# -- configuration -------------------------------------------------------------------------------
_KEY_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class MasterKey(pydantic.BaseModel):
    """An older master key, kept so objects it wrapped still open (``s3bridge rotate-key`` rewraps them)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    id: str = pydantic.Field(pattern=_KEY_ID)
    #: 32 bytes as 64 hex digits or base64; use a ``${ENV}`` reference rather than the key itself.
    key: pydantic.SecretStr | None = None
    #: A file holding the key (hex or base64).
    key_file: Path | None = None

    def material(self) -> bytes:
        return _load_key(self.key, self.key_file, self.id)


def _load_key(key: pydantic.SecretStr | None, key_file: Path | None, key_id: str) -> bytes:
    if (key is None) == (key_file is None):
        raise ValueError(f"key {key_id!r} needs exactly one of key and key_file")
    try:
        text = key.get_secret_value() if key is not None else Path(key_file or "").read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the key file of key {key_id!r}: {exc.strerror}") from None
    try:
        return keys.parse_key(text)
    except ValueError as exc:
        raise ValueError(f"key {key_id!r}: {exc}") from None


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", title="encrypt backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("backend",)

    type: Literal["encrypt"]
    #: The backend whose objects this layer encrypts.
    backend: str
    #: Id of the master key that wraps new objects' data keys (stored with each object).
    key_id: str = pydantic.Field(pattern=_KEY_ID)
    #: The master key: 32 bytes as 64 hex digits or base64; use a ``${ENV}`` reference.
    master_key: pydantic.SecretStr | None = None
    #: A file holding the master key (hex or base64).
    master_key_file: Path | None = None
    #: Older master keys, which still open the objects they wrapped.
    old_keys: list[MasterKey] = pydantic.Field(default_factory=list)
    #: Accept SSE-C keys over plain http (S3 refuses them: the key crosses the network in clear).
    allow_sse_c_over_http: bool = False

    @pydantic.model_validator(mode="after")
    def _keys(self) -> Settings:
        self.keyring()
        ids = [self.key_id, *(k.id for k in self.old_keys)]
        if len(set(ids)) != len(ids):
            raise ValueError("key ids must be distinct")
        return self

    def keyring(self) -> keys.Keyring:
        ring = {k.id: k.material() for k in self.old_keys}
        ring[self.key_id] = _load_key(self.master_key, self.master_key_file, self.key_id)
        return keys.Keyring(self.key_id, ring)


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
