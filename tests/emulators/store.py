"""The emulators' store: buckets, objects and multipart uploads, bodies on disk, the index in memory.

Dialect-neutral and thread-safe; see ``tests.emulators.core`` for the API summary.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.emulators import versioning as vers
from tests.emulators.core import CHUNK, EmulatorError


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


@dataclass
class Blob:
    """A body written to a temp file; ``digests`` holds md5 and the extra hashers' results."""

    path: Path
    size: int
    digests: dict[str, bytes]

    @property
    def md5_hex(self) -> str:
        return self.digests["md5"].hex()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class ObjectRecord:
    key: str
    size: int
    etag: str  # lowercase hex, multipart "<hex>-N"
    last_modified: float
    path: Path
    headers: dict[str, str] = field(default_factory=dict)  # stored content headers and user metadata
    extra: dict[str, Any] = field(default_factory=dict)  # dialect data (object type, crc, ...)
    tags: dict[str, str] = field(default_factory=dict)  # object tags (dialects that have them)


@dataclass
class PartRecord:
    number: int
    size: int
    etag: str
    last_modified: float
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class UploadRecord:
    bucket: str
    key: str
    upload_id: str
    initiated: float
    headers: dict[str, str]
    parts: dict[int, PartRecord] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # given to the object at completion


@dataclass
class BucketRecord:
    name: str
    created: float
    objects: dict[str, ObjectRecord] = field(default_factory=dict)
    uploads: dict[str, UploadRecord] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


class Store:
    """Buckets, objects and multipart uploads; bodies in files under ``root``, the index in memory."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._data = self.root / "data"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._data.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._buckets: dict[str, BucketRecord] = {}

    # bodies
    def write_blob(
        self,
        chunks: Iterable[bytes],
        hashers: dict[str, Callable[[], Hasher]] | None = None,
        expected_size: int | None = None,
    ) -> Blob:
        """Stream ``chunks`` to a temp file; removes it if the body fails or its size is not as declared."""
        path = self._tmp / uuid.uuid4().hex
        running: dict[str, Hasher] = {"md5": hashlib.md5()}
        for name, factory in (hashers or {}).items():
            running[name] = factory()
        size = 0
        try:
            with open(path, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                    for h in running.values():
                        h.update(chunk)
            if expected_size is not None and size != expected_size:
                raise EmulatorError(400, "IncompleteBody", "The body is shorter than its declared length.")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Blob(path, size, {name: h.digest() for name, h in running.items()})

    def _adopt(self, blob_path: Path) -> Path:
        final = self._data / uuid.uuid4().hex
        os.replace(blob_path, final)
        return final

    def read_range(self, record: ObjectRecord | PartRecord, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive; opened now, so a concurrent overwrite cannot change them."""
        f = open(record.path, "rb")  # noqa: SIM115 - closed by the generator
        return _file_chunks(f, start, end - start + 1)

    # buckets
    def create_bucket(self, name: str, **extra: Any) -> BucketRecord:
        with self._lock:
            if name in self._buckets:
                raise EmulatorError(409, "BucketAlreadyExists", "The requested bucket name is not available.")
            rec = BucketRecord(name, time.time(), extra=dict(extra))
            self._buckets[name] = rec
            return rec

    def require_bucket(self, name: str) -> BucketRecord:
        with self._lock:
            rec = self._buckets.get(name)
        if rec is None:
            raise EmulatorError(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=name)
        return rec

    def bucket(self, name: str) -> BucketRecord | None:
        with self._lock:
            return self._buckets.get(name)

    def buckets(self) -> list[BucketRecord]:
        with self._lock:
            return sorted(self._buckets.values(), key=lambda b: b.name)

    def delete_bucket(self, name: str, *, refuse_with_uploads: bool = True) -> None:
        with self._lock:
            rec = self.require_bucket(name)
            if rec.objects or vers.has_versions(rec.extra) or (refuse_with_uploads and rec.uploads):
                raise EmulatorError(
                    409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", BucketName=name
                )
            del self._buckets[name]

    # objects
    def put_object(
        self,
        bucket: str,
        key: str,
        blob: Blob,
        headers: dict[str, str],
        extra: dict[str, Any] | None = None,
        create_only: bool = False,
        tags: dict[str, str] | None = None,
    ) -> ObjectRecord:
        """``create_only`` (OSS's ``x-oss-forbid-overwrite``) is decided under the lock with the write."""
        with self._lock:
            b = self.require_bucket(bucket)
            self._refuse_overwrite(b, key, create_only)
            record = ObjectRecord(
                key, blob.size, blob.md5_hex, time.time(), self._adopt(blob.path), dict(headers)
            )
            record.extra.update(extra or {})
            record.tags = dict(tags or {})
            self._replace(b, record)
            return record

    @staticmethod
    def _refuse_overwrite(b: BucketRecord, key: str, create_only: bool, tmp: Path | None = None) -> None:
        if create_only and key in b.objects:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise EmulatorError(409, "FileAlreadyExists", "The object you specified already exists.")

    def _replace(self, b: BucketRecord, record: ObjectRecord) -> None:
        vers.stamp(b, record)
        if vers.status(b.extra) is not None:  # the old current version is kept (see versioning)
            vers.retire_current(b, record.key)
            b.objects[record.key] = record
            return
        old = b.objects.get(record.key)
        b.objects[record.key] = record
        if old is not None and old.path != record.path:
            old.path.unlink(missing_ok=True)  # open readers keep their handle

    def get_object(self, bucket: str, key: str) -> ObjectRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = b.objects.get(key)
        if rec is None:
            raise EmulatorError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return rec

    def retag(self, record: ObjectRecord, tags: dict[str, str]) -> None:
        """Replace the tags of an object or version; its other fields stay."""
        with self._lock:
            record.tags = dict(tags)

    def get_version(self, bucket: str, key: str, version_id: str | None, header_prefix: str) -> ObjectRecord:
        """The current object or a version; a delete marker answers as the S3 family does (404 for the
        latest, 405 by id, with ``<prefix>delete-marker`` and ``<prefix>version-id`` headers)."""
        with self._lock:
            b = self.require_bucket(bucket)
            if version_id is None:
                marker = vers.latest_marker(b, key)
                rec = b.objects.get(key)
            else:
                marker, rec = None, vers.find(b, key, version_id)
        marks = {f"{header_prefix}delete-marker": "true"}
        if marker is not None:
            marks[f"{header_prefix}version-id"] = vers.version_of(marker)
            raise EmulatorError(404, "NoSuchKey", "The specified key does not exist.", marks, Key=key)
        if rec is None and version_id is not None:
            raise EmulatorError(404, "NoSuchVersion", "The specified version does not exist.", Key=key)
        if rec is None:
            raise EmulatorError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        if vers.is_marker(rec):
            marks[f"{header_prefix}version-id"] = vers.version_of(rec)
            raise EmulatorError(405, "MethodNotAllowed", "The specified method is not allowed.", marks)
        return rec

    def delete_version(self, bucket: str, key: str, version_id: str | None) -> tuple[str | None, bool]:
        """DeleteObject in a bucket with versioning, or of a version: (version id, delete marker)."""
        with self._lock:
            b = self.require_bucket(bucket)
            if version_id is None:
                if vers.status(b.extra) is None:
                    self.delete_object(bucket, key)
                    return None, False
                marker = vers.add_marker(b, key, ObjectRecord)
                return vers.version_of(marker), True
            removed = vers.remove(b, key, version_id)
            return version_id, removed is not None and vers.is_marker(removed)

    def set_versioning(self, bucket: str, value: str) -> None:
        with self._lock:
            self.require_bucket(bucket).extra["versioning"] = vers.check_status(value)

    def versions(self, bucket: str) -> list[tuple[str, ObjectRecord, bool]]:
        """(key, record, is latest) of every version and marker, in key order then newest first."""
        with self._lock:
            found = vers.every_version(self.require_bucket(bucket))
        return sorted(found, key=lambda e: _utf8(e[0]))  # stable: each key's chain keeps its order

    def delete_object(self, bucket: str, key: str) -> bool:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = b.objects.pop(key, None)
        if rec is not None:
            rec.path.unlink(missing_ok=True)
        return rec is not None

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        headers: dict[str, str] | None,
        extra: dict[str, Any] | None = None,
        create_only: bool = False,
        tags: dict[str, str] | None = None,
        src_version: str | None = None,
        header_prefix: str = "x-amz-",
    ) -> ObjectRecord:
        """Copy the body on disk (of ``src_version`` when given); ``headers`` (``tags``) None keeps the
        source's."""
        src = self.get_version(src_bucket, src_key, src_version, header_prefix)
        self.require_bucket(dst_bucket)
        tmp = self._tmp / uuid.uuid4().hex
        shutil.copyfile(src.path, tmp)
        with self._lock:
            b = self.require_bucket(dst_bucket)
            self._refuse_overwrite(b, dst_key, create_only, tmp)
            record = ObjectRecord(
                dst_key,
                src.size,
                src.etag,
                time.time(),
                self._adopt(tmp),
                dict(src.headers if headers is None else headers),
                dict(src.extra if extra is None else extra),
                dict(src.tags if tags is None else tags),
            )
            self._replace(b, record)
            return record

    def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> tuple[list[ObjectRecord | str], bool, str | None]:
        """A page of objects and common prefixes in UTF-8 order after ``start_after``.

        Returns (entries, is_truncated, last entry's key or prefix when truncated).
        """
        with self._lock:
            keys = sorted(self.require_bucket(bucket).objects.items(), key=lambda kv: _utf8(kv[0]))
        return _page(keys, prefix, delimiter, start_after, max_keys)

    # multipart
    def create_upload(
        self, bucket: str, key: str, headers: dict[str, str], tags: dict[str, str] | None = None
    ) -> UploadRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = UploadRecord(bucket, key, uuid.uuid4().hex.upper(), time.time(), dict(headers))
            rec.tags = dict(tags or {})
            b.uploads[rec.upload_id] = rec
            return rec

    def upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = b.uploads.get(upload_id)
        if rec is None or rec.key != key:
            raise EmulatorError(
                404,
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, "
                "or the upload may have been aborted or completed.",
                UploadId=upload_id,
            )
        return rec

    def put_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        blob: Blob,
        extra: dict[str, Any] | None = None,
    ) -> PartRecord:
        with self._lock:
            up = self.upload(bucket, key, upload_id)
            part = PartRecord(
                number, blob.size, blob.md5_hex, time.time(), self._adopt(blob.path), dict(extra or {})
            )
            old = up.parts.get(number)
            up.parts[number] = part
        if old is not None:
            old.path.unlink(missing_ok=True)
        return part

    def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> tuple[list[PartRecord], bool]:
        with self._lock:
            up = self.upload(bucket, key, upload_id)
            parts = sorted((p for n, p in up.parts.items() if n > marker), key=lambda p: p.number)
        return parts[:max_parts], len(parts) > max_parts

    def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        min_part_size: int,
        extra: dict[str, Any] | None = None,
        create_only: bool = False,
    ) -> ObjectRecord:
        """Join the named parts (etags as lowercase hex) into the object, checking order, etags and sizes."""
        up = self.upload(bucket, key, upload_id)
        if not parts:
            raise EmulatorError(400, "MalformedXML", "The CompleteMultipartUpload document lists no parts.")
        chosen: list[PartRecord] = []
        last = 0
        for number, etag in parts:
            if number <= last:
                raise EmulatorError(
                    400,
                    "InvalidPartOrder",
                    "The list of parts was not in ascending order.",
                    UploadId=upload_id,
                )
            last = number
            part = up.parts.get(number)
            if part is None or part.etag != etag:
                raise EmulatorError(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found or the specified entity tag "
                    "might not have matched the part's entity tag.",
                    UploadId=upload_id,
                    PartNumber=str(number),
                    ETag=etag,
                )
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < min_part_size:
                raise EmulatorError(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                    PartNumber=str(part.number),
                    MinSizeAllowed=str(min_part_size),
                    ProposedSize=str(part.size),
                )
        tmp = self._tmp / uuid.uuid4().hex
        with open(tmp, "wb") as out:
            for part in chosen:
                with open(part.path, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
        joined = b"".join(bytes.fromhex(p.etag) for p in chosen)
        etag = f"{hashlib.md5(joined).hexdigest()}-{len(chosen)}"
        with self._lock:
            b = self.require_bucket(bucket)
            if upload_id in b.uploads:
                self._refuse_overwrite(b, key, create_only, tmp)
            if b.uploads.pop(upload_id, None) is None:
                tmp.unlink(missing_ok=True)
                raise EmulatorError(
                    404, "NoSuchUpload", "The specified upload does not exist.", UploadId=upload_id
                )
            size = sum(p.size for p in chosen)
            record = ObjectRecord(
                key, size, etag, time.time(), self._adopt(tmp), dict(up.headers), dict(extra or {})
            )
            record.tags = dict(up.tags)
            self._replace(b, record)
        for part in up.parts.values():
            part.path.unlink(missing_ok=True)
        return record

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        up = self.upload(bucket, key, upload_id)
        with self._lock:
            self.require_bucket(bucket).uploads.pop(upload_id, None)
        for part in up.parts.values():
            part.path.unlink(missing_ok=True)

    def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> tuple[list[UploadRecord | str], bool]:
        """Uploads ordered by (key, initiation); ``key_marker``/``upload_id_marker`` as S3 defines them."""
        with self._lock:
            ups = sorted(
                self.require_bucket(bucket).uploads.values(), key=lambda u: (_utf8(u.key), u.initiated)
            )
        # uploads of key_marker up to and including upload_id_marker, in listing order
        same_key = [u.upload_id for u in ups if u.key == key_marker]
        cut = same_key.index(upload_id_marker) + 1 if upload_id_marker in same_key else len(same_key)
        passed = set(same_key[:cut])
        out: list[UploadRecord | str] = []
        seen_prefixes: set[str] = set()
        truncated = False
        for up in ups:
            if not up.key.startswith(prefix):
                continue
            if key_marker:
                kb, mb = _utf8(up.key), _utf8(key_marker)
                if kb < mb or (kb == mb and (not upload_id_marker or up.upload_id in passed)):
                    continue
            roll = _rollup(up.key, prefix, delimiter)
            if roll is not None and roll in seen_prefixes:
                continue
            if len(out) >= max_uploads:
                truncated = True
                break
            if roll is not None:
                seen_prefixes.add(roll)
                out.append(roll)
            else:
                out.append(up)
        return out, truncated


def _rollup(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    pos = key.find(delimiter, len(prefix))
    return None if pos < 0 else key[: pos + len(delimiter)]


def _page(
    items: list[tuple[str, ObjectRecord]], prefix: str, delimiter: str, start_after: str, max_keys: int
) -> tuple[list[ObjectRecord | str], bool, str | None]:
    out: list[ObjectRecord | str] = []
    after = _utf8(start_after)
    last_name: str | None = None
    for key, rec in items:
        if not key.startswith(prefix) or (start_after and _utf8(key) <= after):
            continue
        roll = _rollup(key, prefix, delimiter)
        if roll is not None:
            if roll == last_name or (start_after and _utf8(roll) <= after):
                continue
        if len(out) >= max_keys:
            return out, True, last_name
        name = roll if roll is not None else key
        out.append(roll if roll is not None else rec)
        last_name = name
    return out, False, None


def _file_chunks(f: Any, start: int, length: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


# -- request helpers -----------------------------------------------------------------------------------
