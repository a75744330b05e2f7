"""Bucket settings kept as small objects in a metadata bucket on the provider's own store.

The s3, oss and obs backends have no state directory: the documents the gateway evaluates itself (ACLs,
policies, CORS, ...) live as objects ``buckets/<bucket>/<name>`` in the bucket named by the backend's
``meta_bucket`` setting, as versitygw's ``--meta-bucket`` does. Every gateway replica in front of the
store reads the same objects. Without ``meta_bucket`` the settings calls answer NotImplemented naming the
setting that enables them. The metadata bucket is created on first write and hidden from ListBuckets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from backends import errors as be
from backends.base import Backend, BucketInfo, ObjectMeta, check_setting_name

PREFIX = "buckets/"
DOCUMENT_TYPE = "application/octet-stream"


class DocumentBody:
    """A PutBody over a small in-memory document (a settings document, never an object body)."""

    def __init__(self, document: bytes):
        self._document = document
        self.size: int | None = len(document)

    @property
    def checksums(self) -> dict[str, str]:
        return {}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._document:
            yield self._document


async def read_document(store: Backend, meta: str, key: str) -> bytes | None:
    """The small document at ``key`` in the metadata bucket, None when there is none."""
    try:
        result = await store.get_object(meta, key)
    except (be.NoSuchKey, be.NoSuchBucket):
        return None
    return b"".join([chunk async for chunk in result.body])


async def write_document(store: Backend, meta: str, key: str, document: bytes) -> None:
    """Replace the document at ``key``, creating the metadata bucket on its first write."""
    plain = ObjectMeta(content_type=DOCUMENT_TYPE)
    try:
        await store.put_object(meta, key, DocumentBody(document), plain)
    except be.NoSuchBucket:
        try:
            await store.create_bucket(meta)
        except be.BucketAlreadyOwnedByYou:
            pass
        await store.put_object(meta, key, DocumentBody(document), plain)


class MetaBucketSettings(Backend):
    """The settings half of the contract for a backend whose settings live in ``meta_bucket``.

    A provider backend inherits this first (``class S3Backend(MetaBucketSettings, Backend)``), sets
    ``meta_bucket`` and calls ``_forget_settings`` after a bucket is created or deleted and
    ``_visible`` on its ListBuckets answer.
    """

    meta_bucket: str | None = None

    def _meta(self) -> str:
        if not self.meta_bucket:
            raise be.NotImplementedByBackend(
                f"Bucket settings (ACLs, policies, CORS, encryption defaults) need a metadata bucket: set "
                f"`meta_bucket` in the configuration of the {self.name} backend.",
                backend=self.name,
            )
        return self.meta_bucket

    @staticmethod
    def _document_key(bucket: str, name: str) -> str:
        return f"{PREFIX}{bucket}/{check_setting_name(name)}"

    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        meta = self._meta()
        await self.head_bucket(bucket)
        return await read_document(self, meta, self._document_key(bucket, name))

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        meta = self._meta()
        await self.head_bucket(bucket)
        await write_document(self, meta, self._document_key(bucket, name), document)

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        meta = self._meta()
        await self.head_bucket(bucket)
        try:
            await self.delete_object(meta, self._document_key(bucket, name))
        except be.NoSuchBucket:
            pass

    async def _forget_settings(self, bucket: str) -> None:
        """Remove every document of ``bucket`` (after it was created or deleted: a new bucket of the
        same name must not inherit the old one's policy)."""
        if not self.meta_bucket or bucket == self.meta_bucket:
            return
        prefix = f"{PREFIX}{bucket}/"
        try:
            page = await self.list_objects(self.meta_bucket, prefix=prefix, max_keys=1000)
            for obj in page.objects:
                await self.delete_object(self.meta_bucket, obj.key)
        except be.NoSuchBucket:
            pass

    def _visible(self, buckets: list[BucketInfo]) -> list[BucketInfo]:
        return [b for b in buckets if b.name != self.meta_bucket]
