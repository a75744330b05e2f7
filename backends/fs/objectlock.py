"""Object Lock on the filesystem backend: the rules, enforced where versions are removed or changed.

A version's retention (mode, retain-until date) and legal hold live in its own metadata record (the
ObjectMeta lock fields, see fs_format), so they are published with the version by the same rename and
read back with it. The rules are checked here, by the backend itself, under the key's lock: whatever
the client sends, a version under COMPLIANCE retention or a legal hold is never removed, and a
GOVERNANCE one only with the bypass. Changing a version's lock rewrites its file (data copied into a
temp file with the new record, renamed over the old one), so a reader sees the old record or the new.
The functions are blocking.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from typing import Any

from backends import errors as be
from backends.fs.format import CorruptObject, Record, TempFile, read_record, read_record_at
from backends.fs.io import READ_CHUNK
from backends.fs.versions import KeyFiles, is_marker, record_name, version_path


def _until(meta: dict[str, Any]) -> dt.datetime | None:
    raw = meta.get("lock_retain_until")
    if not isinstance(raw, str) or not meta.get("lock_mode"):
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def _active(meta: dict[str, Any]) -> tuple[str | None, dt.datetime | None]:
    """The retention still in force: (mode, until), or (None, None) once its date has passed."""
    until = _until(meta)
    if until is None or until <= dt.datetime.now(dt.timezone.utc):
        return None, None
    return str(meta["lock_mode"]), until


def check_removable(meta: dict[str, Any], bypass: bool, backend: str) -> None:
    """ObjectLocked if a version with this record may not be removed (S3's 403 AccessDenied)."""
    if meta.get("legal_hold"):
        raise be.ObjectLocked(detail="a legal hold is on", backend=backend)
    mode, until = _active(meta)
    if mode == "COMPLIANCE" or (mode == "GOVERNANCE" and not bypass):
        raise be.ObjectLocked(detail=f"{mode} retention until {until}", backend=backend)


def check_retention_change(
    meta: dict[str, Any], mode: str | None, until: str | None, bypass: bool, backend: str
) -> None:
    """ObjectLocked if the retention in force may not become (``mode``, ``until``): a COMPLIANCE one is
    only extended; a GOVERNANCE one is extended or made COMPLIANCE, or anything with the bypass."""
    old_mode, old_until = _active(meta)
    if old_mode is None or (old_mode == "GOVERNANCE" and bypass):
        return
    new_until = _until({"lock_mode": mode, "lock_retain_until": until})
    stricter = mode == "COMPLIANCE" or (mode == "GOVERNANCE" and old_mode == "GOVERNANCE")
    if not stricter or new_until is None or old_until is None or new_until < old_until:
        raise be.ObjectLocked(
            detail=f"{old_mode} retention until {old_until} cannot become {mode} until {until}",
            backend=backend,
        )


def guard_delete(files: KeyFiles, version_id: str, bypass: bool, backend: str) -> None:
    """Before a version is removed for good (under the key lock): refuse a locked one. A version that
    does not exist is left to the delete, which answers success as S3 does."""
    try:
        path = version_path(files, version_id, "Enabled", backend)
        record = read_record_at(path)
    except (be.NoSuchVersion, FileNotFoundError, NotADirectoryError, CorruptObject):
        return
    check_removable(record.meta, bypass, backend)


def rewrite_lock(
    files: KeyFiles,
    version_id: str | None,
    status: str | None,
    changes: dict[str, Any],
    tmp_dir: str,
    fsync: bool,
    backend: str,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Record:
    """Give a version (the current one when ``version_id`` is None) new lock fields (under the key
    lock); ``check(meta)`` may refuse first. Returns the new record."""
    path = version_path(files, version_id, status, backend)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise (be.NoSuchVersion if version_id else be.NoSuchKey)(detail=path, backend=backend) from None
    try:
        record = read_record(fd)
        if is_marker(record):
            raise be.DeleteMarkerVersion(version_id, backend=backend)
        if check is not None:
            check(record.meta)
        meta = {**record.meta, **changes}
        if status is not None:
            meta.setdefault("version", record_name(record))
        fresh = Record(record.etag, record.mtime_ns, meta, size=record.size)
        temp = TempFile(tmp_dir, hash_md5=False)
        try:
            temp.copy_from(fd, 0, record.size, READ_CHUNK)
            temp.finish(fresh, fsync)
            if path == files.current:  # a leftover link would keep the old record once noncurrent
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(files.path(record_name(record)))
            os.rename(temp.path, path)
        except BaseException:
            temp.discard()
            raise
    finally:
        os.close(fd)
    return fresh
