"""The fs backend's bucket settings: one file per document in the bucket's hidden ``.settings`` directory.

Kept inside the bucket directory, so a setting is born and dies with its bucket (DeleteBucket removes
the directory whole; a bucket created again under the same name starts with none). A document is
written to this process's temp directory and renamed into place, so a reader on any process sees the
old document or the new one, never a torn write. Hidden names never collide with object files (see
fs_keys: no object component starts with a dot).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from backends.base import check_setting_name

SETTINGS_DIR = ".settings"


class BucketSettingsFiles:
    """Read, replace and remove setting documents under a bucket directory (blocking calls)."""

    def __init__(self, temp_dir: Callable[[], str], fsync: bool):
        self._temp_dir = temp_dir
        self._fsync = fsync

    @staticmethod
    def _path(bucket_dir: str, name: str) -> str:
        return os.path.join(bucket_dir, SETTINGS_DIR, check_setting_name(name))

    def read(self, bucket_dir: str, name: str) -> bytes | None:
        try:
            with open(self._path(bucket_dir, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write(self, bucket_dir: str, name: str, document: bytes) -> None:
        target = self._path(bucket_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        staging = os.path.join(self._temp_dir(), f"setting-{secrets.token_hex(8)}")
        try:
            with open(staging, "wb") as f:
                f.write(document)
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(staging, target)
        except BaseException:
            if os.path.exists(staging):
                os.unlink(staging)
            raise
        if self._fsync:
            self._sync_dir(os.path.dirname(target))

    def remove(self, bucket_dir: str, name: str) -> None:
        try:
            os.unlink(self._path(bucket_dir, name))
        except FileNotFoundError:
            return
        if self._fsync:
            self._sync_dir(os.path.join(bucket_dir, SETTINGS_DIR))

    @staticmethod
    def _sync_dir(path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
