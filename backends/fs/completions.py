"""Completed multipart uploads, remembered for a while: a CompleteMultipartUpload repeated after it
succeeded (a client retrying after a lost answer) gets the same answer again, as on S3, instead of
NoSuchUpload.

Layout, beside the bucket's uploads (see fs_multipart)::

    <uploads>/<bucket>/.completed/<hour>/<upload id>   one JSON record per completed upload

``hour`` is the completion time in whole hours since the epoch, so forgetting is removing whole
directories: each completion drops the hour directories older than ``REMEMBER_HOURS`` (a listing of at
most a few dozen names), and a look-up reads at most that many paths. The record holds what the answer
needs (key, ETag, size, time, metadata with the version name) and is written by one rename, after the
object was published and before the upload is removed; a crash in between leaves the upload, which a
retry then completes again. The functions are blocking.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time

from backends.base import ObjectInfo
from backends.fs.format import Record
from backends.fs.multipart import well_formed

COMPLETED_DIR = ".completed"
#: How long a completed upload id keeps answering a repeated CompleteMultipartUpload.
REMEMBER_HOURS = 24
_NS_PER_HOUR = 3600 * 10**9


class Completions:
    """The completion records of every bucket under one uploads directory."""

    def __init__(self, uploads_dir: str):
        self.uploads_dir = uploads_dir

    def _dir(self, bucket: str) -> str:
        return os.path.join(self.uploads_dir, bucket, COMPLETED_DIR)

    def remember(self, bucket: str, upload_id: str, key: str, record: Record, tmp_dir: str) -> None:
        """Record a completion (after the object was published), forgetting the expired ones."""
        now_hour = time.time_ns() // _NS_PER_HOUR
        hour_dir = os.path.join(self._dir(bucket), str(now_hour))
        os.makedirs(hour_dir, exist_ok=True)
        doc = {
            "key": key,
            "etag": record.etag,
            "mtime_ns": record.mtime_ns,
            "size": record.size,
            "meta": record.meta,
        }
        staging = os.path.join(tmp_dir, f"completed-{upload_id}-{secrets.token_hex(4)}")
        with open(staging, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        os.rename(staging, os.path.join(hour_dir, upload_id))
        self._forget_before(bucket, now_hour - REMEMBER_HOURS)

    def _forget_before(self, bucket: str, oldest_hour: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self._dir(bucket)):
                if entry.name.isdigit() and int(entry.name) < oldest_hour:
                    shutil.rmtree(entry.path, ignore_errors=True)

    def find(self, bucket: str, key: str, upload_id: str) -> ObjectInfo | None:
        """The answer a completed upload of ``key`` gave, if it is still remembered."""
        if not well_formed(upload_id):
            return None
        oldest = time.time_ns() // _NS_PER_HOUR - REMEMBER_HOURS
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self._dir(bucket)):
                if not entry.name.isdigit() or int(entry.name) < oldest:
                    continue
                try:
                    with open(os.path.join(entry.path, upload_id), encoding="utf-8") as f:
                        doc = json.load(f)
                except (FileNotFoundError, ValueError):
                    continue
                if doc.get("key") != key:
                    return None
                record = Record(doc["etag"], int(doc["mtime_ns"]), dict(doc["meta"]), size=int(doc["size"]))
                return record.object_info(key)
        return None
