"""Multipart uploads on disk for the filesystem backend (blocking helpers, run from worker threads).

An upload is a directory ``<state>/uploads/<bucket>/<upload id>/`` holding ``upload.json`` (key,
metadata, initiation time) and one file per part (``part-00001``, in the object file format, so each
part carries its MD5 and checksums). A part lands by rename, so re-uploading a part number replaces it
atomically. Upload ids are 32 lowercase hex digits (initiation time in ns, then random bits): opaque,
unguessable, sortable by initiation, and checked against that form before they touch a path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from backends.base import MIN_PART_SIZE, CompletedPart, ObjectMeta, UploadInfo, UploadsPage
from backends.errors import EntityTooSmall, InvalidArgument, InvalidPart, InvalidPartOrder, NoSuchUpload
from backends.fs.format import CorruptObject, Record, meta_to_dict, read_record_at
from backends.fs.listing import roll_up
from backends.fs.tempdirs import ProcessTempDir
from backends.multipartsums import multipart_checksums

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"part-(\d{5})")
UPLOAD_DOC = "upload.json"


def well_formed(upload_id: str) -> bool:
    """Whether ``upload_id`` has the form this store makes (and so is safe as a path component)."""
    return _UPLOAD_ID.fullmatch(upload_id or "") is not None


def new_upload_id() -> str:
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def part_name(number: int) -> str:
    return f"part-{number:05d}"


@dataclass
class Upload:
    key: str
    upload_id: str
    initiated_ns: int
    meta: dict[str, Any]
    path: str

    @property
    def initiated(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.initiated_ns / 1e9, tz=dt.timezone.utc)

    def object_meta(self) -> ObjectMeta:
        return Record(etag="", mtime_ns=0, meta=self.meta).object_meta()

    def parts(self) -> list[tuple[int, str]]:
        """(part number, path) of the parts uploaded so far, by number."""
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.path):
                match = _PART_FILE.fullmatch(entry.name)
                if match:
                    found.append((int(match.group(1)), entry.path))
        return sorted(found)


class UploadStore:
    """The uploads of every bucket under one state directory."""

    def __init__(self, uploads_dir: str, temps: ProcessTempDir):
        self.uploads_dir = uploads_dir
        self.temps = temps

    def bucket_dir(self, bucket: str) -> str:
        return os.path.join(self.uploads_dir, bucket)

    def create(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        """Publish a new upload directory with one rename, so it is never seen half made."""
        upload_id = new_upload_id()
        staging = os.path.join(self.temps.current, f"upload-{upload_id}")
        os.mkdir(staging)
        doc = {"key": key, "initiated_ns": time.time_ns(), "meta": meta_to_dict(meta)}
        with open(os.path.join(staging, UPLOAD_DOC), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        os.makedirs(self.bucket_dir(bucket), exist_ok=True)
        os.rename(staging, os.path.join(self.bucket_dir(bucket), upload_id))
        return upload_id

    def _read(self, bucket: str, upload_id: str) -> Upload | None:
        path = os.path.join(self.bucket_dir(bucket), upload_id)
        try:
            with open(os.path.join(path, UPLOAD_DOC), encoding="utf-8") as f:
                doc = json.load(f)
            return Upload(doc["key"], upload_id, int(doc["initiated_ns"]), dict(doc["meta"]), path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, KeyError, TypeError):
            return None

    def get(self, bucket: str, key: str, upload_id: str) -> Upload:
        """The upload, if this id is well formed, exists and belongs to this key."""
        upload = self._read(bucket, upload_id) if well_formed(upload_id) else None
        if upload is None or upload.key != key:
            raise NoSuchUpload(detail=f"upload {upload_id!r} of key {key!r}")
        return upload

    def remove(self, upload: Upload) -> None:
        """Drop an upload: renamed out of sight first, so it vanishes at once, then deleted."""
        doomed = os.path.join(self.temps.current, f"gone-{upload.upload_id}-{secrets.token_hex(4)}")
        try:
            os.rename(upload.path, doomed)
        except FileNotFoundError:
            raise NoSuchUpload(detail=f"upload {upload.upload_id!r} went away") from None
        shutil.rmtree(doomed, ignore_errors=True)

    def remove_bucket(self, bucket: str) -> None:
        shutil.rmtree(self.bucket_dir(bucket), ignore_errors=True)

    def all_uploads(self, bucket: str, prefix: str) -> list[Upload]:
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.bucket_dir(bucket)):
                if _UPLOAD_ID.fullmatch(entry.name):
                    upload = self._read(bucket, entry.name)
                    if upload is not None and upload.key.startswith(prefix):
                        found.append(upload)
        return sorted(found, key=lambda u: (u.key, u.upload_id))


def uploads_page(
    uploads: list[Upload],
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    max_uploads: int,
) -> UploadsPage:
    """S3's ListMultipartUploads over uploads sorted by (key, id); ids sort by initiation time."""
    listed: list[UploadInfo] = []
    prefixes: list[str] = []
    last: tuple[str, str] | None = None  # (key marker, upload id marker) of the last entry
    if max_uploads <= 0:
        return UploadsPage(listed, prefixes, False)
    for upload in uploads:
        if upload.key < key_marker or (upload.key == key_marker and upload.upload_id <= upload_id_marker):
            continue
        common = roll_up(upload.key, prefix, delimiter)
        if common is not None and (common == key_marker or (prefixes and prefixes[-1] == common)):
            continue
        if len(listed) + len(prefixes) == max_uploads and last is not None:
            return UploadsPage(listed, prefixes, True, last[0], last[1])
        if common is not None:
            prefixes.append(common)
            last = (common, "")
        else:
            listed.append(UploadInfo(upload.key, upload.upload_id, upload.initiated))
            last = (upload.key, upload.upload_id)
    return UploadsPage(listed, prefixes, False)


def check_completion(upload: Upload, parts: list[CompletedPart]) -> list[tuple[str, Record]]:
    """Apply S3's rules to the client's part list; (path, record) of each part to assemble, in order."""
    if not parts:
        raise InvalidArgument("You must specify at least one part.")
    numbers = [p.part_number for p in parts]
    if any(b <= a for a, b in pairwise(numbers)):
        raise InvalidPartOrder()
    on_disk = dict(upload.parts())
    chosen: list[tuple[str, Record]] = []
    for part in parts:
        path = on_disk.get(part.part_number)
        record = None
        if path is not None:
            with contextlib.suppress(FileNotFoundError, CorruptObject):
                record = read_record_at(path)
        if path is None or record is None or record.etag != part.etag.strip('"').lower():
            raise InvalidPart(detail=f"part {part.part_number}")
        chosen.append((path, record))
    for number, (_, record) in zip(numbers[:-1], chosen[:-1], strict=True):
        if record.size < MIN_PART_SIZE:
            raise EntityTooSmall(detail=f"part {number} has {record.size} bytes")
    return chosen


def multipart_etag(records: list[Record]) -> str:
    joined = b"".join(bytes.fromhex(r.etag) for r in records)
    return f"{hashlib.md5(joined).hexdigest()}-{len(records)}"


def object_checksums(
    records: list[Record], requested: ObjectMeta, given: list[CompletedPart]
) -> tuple[dict[str, str], str | None]:
    """The whole object's checksums and their type, as the upload asked at creation (see
    ``backends.multipartsums``), from the part records."""
    stored = [(r.size, r.meta.get("checksums") or {}) for r in records]
    return multipart_checksums(stored, list(requested.checksums), requested.checksum_type, given)
