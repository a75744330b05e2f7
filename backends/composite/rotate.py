"""Master-key rotation for the encrypt composite: every SSE-S3 object's data key rewrapped under the
current master key, so the old key can be retired.

A single-segment object keeps its sealed bytes: only its metadata changes, through a CopyObject onto
itself with new metadata on the inner store (server-side on s3, oss and obs; a local file copy on fs),
so its ETag stays the same. A multipart object is re-sealed as one segment through the layer (a stream,
data rewritten; its ETag becomes the plaintext's MD5): a store's copy would turn its multipart ETag into
a single one, and the ETag's ``-N`` is what vouches for its part count (see ``manifest.build``). SSE-C objects are the customer's and are left alone, as are
objects stored before the layer. Each write is conditional on the ETag just read, so an object replaced
meanwhile (by a writer already using the current key) is skipped, not overwritten; on a store that
cannot decide If-Match (OSS, OBS) the ETag is checked just before the copy instead, which leaves a
moment for a racing write: rotate those while nothing writes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from backends import errors as be
from backends.base import ALWAYS, Backend, ObjectInfo, WriteCondition
from backends.composite import keys, manifest
from backends.composite.encrypt import Encrypt
from backends.composite.streams import copy_across

log = logging.getLogger("s3bridge.rotate")


@dataclass
class Report:
    rewrapped: int = 0
    resealed: int = 0
    current: int = 0
    customer: int = 0
    plaintext: int = 0
    changed: int = 0
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rewrapped} rewrapped, {self.resealed} re-sealed (multipart), {self.current} already current, "
            f"{self.customer} SSE-C left alone, {self.plaintext} not encrypted, {self.changed} changed meanwhile, "
            f"{len(self.failed)} failed"
        )


async def rotate(enc: Encrypt, buckets: list[str] | None = None) -> Report:
    """Rewrap every object of ``buckets`` (default: every bucket of the inner store)."""
    report = Report()
    names = buckets if buckets is not None else [b.name for b in await enc.inner.list_buckets()]
    for bucket in names:
        start_after = ""
        while True:
            page = await enc.inner.list_objects(bucket, start_after=start_after)
            for obj in page.objects:
                try:
                    await _one(enc, bucket, obj.key, report)
                except be.BackendError as exc:
                    log.warning("%s/%s: %s", bucket, obj.key, exc)
                    report.failed.append(f"{bucket}/{obj.key}: {exc}")
            if not page.is_truncated or not page.objects:
                break
            start_after = page.next_marker or page.objects[-1].key
    return report


async def _one(enc: Encrypt, bucket: str, key: str, report: Report) -> None:
    info = await enc.inner.head_object(bucket, key)
    user = info.meta.user
    mode = user.get(keys.META_MODE)
    if mode is None:
        report.plaintext += 1
        return
    if mode != keys.MODE_S3:
        report.customer += 1
        return
    if user.get(keys.META_KEY_ID) == enc.keyring.current:
        report.current += 1
        return
    try:
        data_key = enc.keyring.unwrap(user.get(keys.META_KEY_ID, ""), user.get(keys.META_WRAPPED, ""))
    except keys.WrongKey as exc:
        report.failed.append(f"{bucket}/{key}: {exc}")
        return
    try:
        if manifest.store_parts(info.etag) is not None:  # uploaded in parts, even one
            await _reseal(enc, bucket, key, info)
            report.resealed += 1
        else:
            await _rewrap(enc, bucket, key, info, data_key)
            report.rewrapped += 1
    except be.PreconditionFailed:
        report.changed += 1


Write = Callable[[WriteCondition], Awaitable[object]]


async def _if_unchanged(via: Backend, bucket: str, key: str, etag: str, write: Write) -> None:
    """``write`` on condition that the object still has ``etag`` (as ``via`` shows it)."""
    try:
        await write(WriteCondition(if_match=etag))
    except be.NotImplementedByBackend:
        # The store cannot decide If-Match (OSS, OBS): check, then write. A write landing in the moment
        # between would be lost or paired with the old key, so the README says to rotate such stores
        # while nothing writes to them.
        if (await via.head_object(bucket, key)).etag != etag:
            raise be.PreconditionFailed() from None
        await write(ALWAYS)


async def _reseal(enc: Encrypt, bucket: str, key: str, info: ObjectInfo) -> None:
    async def write(cond: WriteCondition) -> object:
        return await copy_across(enc, bucket, key, enc, bucket, key, None, cond)

    # Written through the layer, so conditional on the ETag the layer shows for the object just read.
    stored, found = await enc._described(bucket, key, info.version_id)
    if stored.etag != info.etag or found is None:
        raise be.PreconditionFailed()
    await _if_unchanged(enc, bucket, key, found.etag, write)


async def _rewrap(enc: Encrypt, bucket: str, key: str, info: ObjectInfo, data_key: bytes) -> None:
    key_id, wrapped = enc.keyring.wrap(data_key)
    meta = info.meta.copy(user={**info.meta.user, keys.META_KEY_ID: key_id, keys.META_WRAPPED: wrapped})

    async def write(cond: WriteCondition) -> object:
        return await enc.inner.copy_object(bucket, key, bucket, key, meta, cond)

    await _if_unchanged(enc.inner, bucket, key, info.etag, write)
