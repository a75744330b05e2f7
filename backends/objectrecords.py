"""Per-object records in a backend's metadata bucket: what S3 answers with and the provider store forgets.

The s3, oss and obs stores keep an object's bytes, ETag and metadata, but not the ``x-amz-checksum-*``
values the gateway verified on the way in, not (oss, obs) the sizes of the parts a multipart object was
completed from, and not (oss, obs) a completed upload id. The gateway keeps them as small JSON documents
in the backend's ``meta_bucket`` (beside the bucket settings, see ``backends.metabucket``)::

    objects/<bucket>/<sha256 of key>/<version>    one object version's record (version ``null`` when
                                                  the bucket keeps no versions)
    uploads/<bucket>/<upload id>/spec             the checksum an upload asked for at creation
    uploads/<bucket>/<upload id>/<part number>    a part's checksums, as it was uploaded

An object record is written after the object committed and carries the object's ETag and version, so a
read serves it only for the object it describes: a record left behind by a crash between the object's
write and the record's, or by an object replaced without checksums, is never served for another object.
The key is hashed because a 1024-byte key plus the prefix would not fit the store's own key limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from backends import errors as be
from backends.base import Backend, ObjectInfo, ObjectPart
from backends.metabucket import read_document, write_document

OBJECTS = "objects/"
UPLOADS = "uploads/"
SPEC = "spec"
#: Record reads and deletes in flight at once for one call (parts of a large upload).
CONCURRENCY = 8


def version_name(version_id: str | None) -> str:
    """The version an object record is filed under: the store's id, ``null`` where it keeps none."""
    return version_id or "null"


@dataclass
class ObjectRecord:
    """What the store forgets about one object version."""

    key: str
    etag: str
    version: str
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    #: The parts it was completed from; None when it was not completed from parts here.
    parts: list[ObjectPart] | None = None
    #: The multipart upload that made it (a repeated CompleteMultipartUpload is answered from this).
    upload_id: str | None = None

    def describes(self, info: ObjectInfo) -> bool:
        """Whether this record is of ``info``'s object (same key, ETag and version), not a stale one."""
        return (self.key, self.etag, self.version) == (info.key, info.etag, version_name(info.version_id))

    def apply(self, info: ObjectInfo) -> ObjectInfo:
        """``info`` with the recorded checksums (in place, and returned)."""
        if self.checksums:
            info.meta.checksums = {**info.meta.checksums, **self.checksums}
            info.meta.checksum_type = self.checksum_type
        return info

    def dump(self) -> bytes:
        doc: dict[str, Any] = {"key": self.key, "etag": self.etag, "version": self.version}
        if self.checksums:
            doc["checksums"] = self.checksums
            doc["type"] = self.checksum_type
        if self.parts is not None:
            doc["parts"] = [[p.size, p.checksums] for p in self.parts]
        if self.upload_id is not None:
            doc["upload"] = self.upload_id
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def load(cls, data: bytes) -> ObjectRecord:
        doc = json.loads(data)
        layout = doc.get("parts")
        parts = None
        if layout is not None:
            parts = [ObjectPart(n, int(size), dict(sums)) for n, (size, sums) in enumerate(layout, start=1)]
        return cls(
            str(doc["key"]),
            str(doc["etag"]),
            str(doc["version"]),
            dict(doc.get("checksums") or {}),
            doc.get("type"),
            parts,
            doc.get("upload"),
        )


@dataclass
class PartRecord:
    """A part's checksums, valid while the store's part still has this ETag."""

    etag: str
    checksums: dict[str, str]


@dataclass
class UploadSpec:
    """The checksum an upload asked for at CreateMultipartUpload (algorithms, COMPOSITE or FULL_OBJECT)."""

    algorithms: list[str]
    checksum_type: str | None


@dataclass
class UploadRecords:
    """Everything recorded for one upload: its spec (if any) and its parts' checksums by number."""

    spec: UploadSpec | None = None
    parts: dict[int, PartRecord] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)


class RecordStore:
    """The records of one backend, kept through that backend's own object operations."""

    def __init__(self, store: Backend, meta_bucket: str):
        self.store = store
        self.meta = meta_bucket

    # -- object records ----------------------------------------------------------------------------
    def _object_key(self, bucket: str, key: str, version: str) -> str:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{OBJECTS}{bucket}/{digest}/{quote(version, safe='')}"

    async def put_object_record(self, bucket: str, record: ObjectRecord) -> None:
        key = self._object_key(bucket, record.key, record.version)
        await write_document(self.store, self.meta, key, record.dump())

    async def object_record(self, bucket: str, key: str, version: str) -> ObjectRecord | None:
        """The record filed for (key, version), unchecked against the object: see ``describes``."""
        data = await read_document(self.store, self.meta, self._object_key(bucket, key, version))
        if data is None:
            return None
        try:
            record = ObjectRecord.load(data)
        except (ValueError, KeyError, TypeError):
            return None  # not a record this code wrote: serve nothing rather than a guess
        return record if record.key == key else None

    async def forget_object(self, bucket: str, key: str, version: str) -> None:
        await self._delete([self._object_key(bucket, key, version)])

    # -- upload records ----------------------------------------------------------------------------
    def _upload_prefix(self, bucket: str, upload_id: str) -> str:
        return f"{UPLOADS}{bucket}/{quote(upload_id, safe='')}/"

    async def put_spec(self, bucket: str, upload_id: str, spec: UploadSpec) -> None:
        doc = {"algorithms": spec.algorithms, "type": spec.checksum_type}
        key = self._upload_prefix(bucket, upload_id) + SPEC
        await write_document(self.store, self.meta, key, json.dumps(doc).encode())

    async def put_part(self, bucket: str, upload_id: str, number: int, part: PartRecord) -> None:
        key = f"{self._upload_prefix(bucket, upload_id)}{number:05d}"
        doc = {"etag": part.etag, "checksums": part.checksums}
        await write_document(self.store, self.meta, key, json.dumps(doc).encode())

    async def upload(
        self, bucket: str, upload_id: str, numbers: Iterable[int] | None = None
    ) -> UploadRecords:
        """The upload's records (of the parts ``numbers`` only, when given): one listing, then a read of
        each record that exists, a few at a time."""
        prefix = self._upload_prefix(bucket, upload_id)
        found = UploadRecords(keys=await self._list(prefix))
        wanted = None if numbers is None else {f"{prefix}{n:05d}" for n in numbers}
        reads = [k for k in found.keys if k == prefix + SPEC or wanted is None or k in wanted]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def read(key: str) -> tuple[str, bytes | None]:
            async with gate:
                return key, await read_document(self.store, self.meta, key)

        for key, data in await asyncio.gather(*(read(k) for k in reads)):
            if data is None:
                continue
            try:
                doc = json.loads(data)
                name = key[len(prefix) :]
                if name == SPEC:
                    found.spec = UploadSpec(list(doc["algorithms"]), doc.get("type"))
                elif name.isdigit():
                    found.parts[int(name)] = PartRecord(str(doc["etag"]), dict(doc["checksums"]))
            except (ValueError, KeyError, TypeError):
                continue
        return found

    async def forget_upload(self, bucket: str, upload_id: str, keys: list[str] | None = None) -> None:
        """Remove an upload's records (``keys``: as a previous ``upload`` listed them)."""
        if keys is None:
            keys = await self._list(self._upload_prefix(bucket, upload_id))
        await self._delete(keys)

    # -- plumbing ----------------------------------------------------------------------------------
    async def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        after = ""
        while True:
            try:
                page = await self.store.list_objects(self.meta, prefix=prefix, start_after=after)
            except be.NoSuchBucket:
                return keys
            keys += [o.key for o in page.objects]
            if not page.is_truncated or not page.objects:
                return keys
            after = page.objects[-1].key

    async def _delete(self, keys: list[str]) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def delete(key: str) -> None:
            async with gate:
                try:
                    await self.store.delete_object(self.meta, key)
                except be.NoSuchBucket:
                    pass

        await asyncio.gather(*(delete(k) for k in keys))
