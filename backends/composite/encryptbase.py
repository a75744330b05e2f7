"""The encrypt composite's shared half: data keys and how a stored object looks to clients.

``Encrypt`` (objects, listings) and ``SealedMultipart`` (uploads) build on it: the keys of a request
(SSE-C over TLS only), a stored object's data key with S3's answers for a missing or wrong customer key,
and its manifest (``manifest``), which gives the plaintext size and S3's ETag clients see.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from backends import errors as be
from backends.base import Backend, Capabilities, ObjectInfo, ObjectMeta, WriteCondition
from backends.composite import keys, manifest, sealed
from backends.composite.forwarding import Forwarding
from backends.composite.manifest import Manifest
from backends.sse import CustomerKey, Encryption, SseRequest, requested

_INSECURE = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
_NEEDS_KEY = (
    "The object was stored using a form of Server Side Encryption. "
    "The correct parameters must be provided to retrieve the object."
)
_NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
_ATTEMPTS = 3
T = TypeVar("T")


def _visible(meta: ObjectMeta, encryption: Encryption | None) -> ObjectMeta:
    user = {k: v for k, v in meta.user.items() if not k.startswith(keys.META_PREFIX)}
    return meta.copy(user=user, encryption=encryption)


class EncryptBase(Forwarding):
    """What every operation of the layer shares: keys, and how a stored object looks to clients."""

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
        self.manifests = manifest.Reader(inner)

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

    def _key_for(self, info: ObjectInfo) -> bytes | None:
        """For ``manifest.Reader``: an SSE-S3 object's data key, None for SSE-C (layout only)."""
        user = info.meta.user
        mode = user.get(keys.META_MODE)
        if mode is None:
            raise manifest.NotSealed()
        if mode == keys.MODE_C:
            return None
        return self._open_key(mode, user.get(keys.META_KEY_ID, ""), user.get(keys.META_WRAPPED, ""), None)

    @staticmethod
    def _encryption(mode: str | None, customer: CustomerKey | None) -> Encryption | None:
        if mode is None:
            return None
        return Encryption(customer.md5 if mode == keys.MODE_C and customer is not None else None)

    # -- what clients see ---------------------------------------------------------------------------
    async def _manifest(
        self, bucket: str, key: str, info: ObjectInfo, sizes: list[int] | None = None
    ) -> Manifest | None:
        """The stored object's manifest (None: stored before this layer); manifest.Changed when it was
        replaced while being read."""
        try:
            return await self.manifests.read(bucket, key, info, self._key_for, sizes)
        except sealed.SealError as exc:
            raise be.IntegrityError(detail=str(exc), backend=self.name) from exc

    async def _settled(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt`` again while the object changes under it (a write racing the reads)."""
        for _ in range(_ATTEMPTS - 1):
            try:
                return await attempt()
            except manifest.Changed:
                continue
        try:
            return await attempt()
        except manifest.Changed:
            raise be.PreconditionFailed(
                detail="the object changed while it was read", backend=self.name
            ) from None

    async def _described(
        self, bucket: str, key: str, version_id: str | None
    ) -> tuple[ObjectInfo, Manifest | None]:
        """The stored object and its manifest, read as one version."""

        async def attempt() -> tuple[ObjectInfo, Manifest | None]:
            info = await self.inner.head_object(bucket, key, version_id)
            return info, await self._manifest(bucket, key, info)

        return await self._settled(attempt)

    def _present(
        self, info: ObjectInfo, found: Manifest | None, customer: CustomerKey | None = None
    ) -> ObjectInfo:
        """The object as clients see it: plaintext size, S3's ETag, hidden metadata stripped."""
        mode = info.meta.user.get(keys.META_MODE)
        meta = _visible(info.meta, self._encryption(mode, customer))
        if found is None:
            return replace(info, meta=meta)
        return replace(info, size=found.size, etag=found.etag, meta=meta)

    async def _store_condition(self, bucket: str, key: str, cond: WriteCondition) -> WriteCondition:
        """``cond`` as the store decides it: an If-Match on the ETag clients see, checked here against the
        current object and handed on as that object's store ETag, so the store still refuses the write
        if the object changes meanwhile."""
        if cond.if_match is None or cond.if_match == "*":
            return cond
        try:
            info, found = await self._described(bucket, key, None)
        except (be.NoSuchKey, be.NotImplementedByBackend):
            return cond  # the store answers as it would (NoSuchKey, or that it cannot decide If-Match)
        if (found.etag if found else info.etag) != cond.if_match:
            raise be.PreconditionFailed(detail=f"If-Match {cond.if_match!r} failed", backend=self.name)
        return replace(cond, if_match=info.etag)
