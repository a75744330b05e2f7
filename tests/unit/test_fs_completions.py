"""The fs backend's memory of completed multipart uploads: found by id for its own key only, and
forgotten by whole hour directories once older than REMEMBER_HOURS."""

from __future__ import annotations

import os
from pathlib import Path

from backends.fs.completions import COMPLETED_DIR, REMEMBER_HOURS, Completions
from backends.fs.format import Record
from backends.fs.multipart import new_upload_id


def test_remembered_for_its_key_then_forgotten(tmp_path: Path) -> None:
    uploads, tmp = tmp_path / "uploads", tmp_path / "tmp"
    tmp.mkdir()
    done = Completions(str(uploads))
    upload_id = new_upload_id()
    record = Record("abc-1", 1_700_000_000_000_000_000, {"version": "f" * 32}, size=5)
    done.remember("b", upload_id, "k", record, str(tmp))
    found = done.find("b", "k", upload_id)
    assert found is not None and (found.etag, found.size, found.version_id) == ("abc-1", 5, "f" * 32)
    assert done.find("b", "other", upload_id) is None
    assert done.find("b", "k", new_upload_id()) is None
    assert done.find("b", "k", "../../etc/passwd") is None  # never a path component
    (hour_dir,) = os.listdir(uploads / "b" / COMPLETED_DIR)
    old = uploads / "b" / COMPLETED_DIR / str(int(hour_dir) - REMEMBER_HOURS - 1)
    os.rename(uploads / "b" / COMPLETED_DIR / hour_dir, old)
    assert done.find("b", "k", upload_id) is None  # expired: not answered
    done.remember("b", new_upload_id(), "k2", record, str(tmp))
    assert not old.exists()  # and dropped by the next completion
