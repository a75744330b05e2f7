"""Listings that reuse what ``lstat`` said of a settled directory's files (fs dirstamps) still show
every change the moment it is made: a write, an overwrite, a delete, a file removed behind the
backend's back. The clock is moved ahead so the test's directories count as settled at once; the
directories' stamps are the real ones the filesystem gives."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.base import ObjectMeta
from backends.fs import dirstamps
from backends.fs.backend import FsBackend
from backends.fs.dirstamps import DirStamps
from tests.helpers.bodies import ChunkedBody

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FsBackend]:
    ahead = dirstamps.SETTLED_NS + 10**9
    real_time_ns = time.time_ns
    monkeypatch.setattr(dirstamps.time, "time_ns", lambda: real_time_ns() + ahead)
    backend = FsBackend(tmp_path / "root", name="fs-stamps")
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


async def put(fs: FsBackend, key: str, data: bytes) -> None:
    await fs.put_object("b", key, ChunkedBody(data), ObjectMeta())


async def listed(fs: FsBackend, prefix: str = "") -> dict[str, tuple[int, str]]:
    light = await fs.list_objects_listed("b", prefix)
    page = await fs.list_objects("b", prefix)
    assert [(o.key, o.size, o.etag) for o in page.objects] == [(o.key, o.size, o.etag) for o in light.objects]
    return {o.key: (o.size, o.etag) for o in light.objects}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def test_changes_show_at_once(fs: FsBackend) -> None:
    for i in range(20):
        await put(fs, f"d/k{i:02d}", b"x")
    assert len(await listed(fs)) == 20
    assert len(await listed(fs)) == 20  # from what the first listing remembered
    await put(fs, "d/k05", b"longer")  # replaced by a rename
    await fs.delete_object("b", "d/k07")
    await put(fs, "d/new", b"n")
    got = await listed(fs)
    assert got["d/k05"] == (6, md5(b"longer"))
    assert "d/k07" not in got
    assert got["d/new"] == (1, md5(b"n"))
    assert len(got) == 20


async def test_a_file_removed_behind_the_backend_is_not_listed(fs: FsBackend, tmp_path: Path) -> None:
    for key in ("d/a", "d/b", "d/c"):
        await put(fs, key, b"x")
    assert list(await listed(fs)) == ["d/a", "d/b", "d/c"]
    [victim] = [p for p in (tmp_path / "root" / "b").rglob("ob") if p.is_file()]
    os.unlink(victim)
    assert list(await listed(fs)) == ["d/a", "d/c"]


async def test_a_settled_directory_is_not_lstat_ed_again(
    fs: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        await put(fs, f"d/k{i:02d}", b"x")
    await listed(fs)
    calls: list[str] = []
    real_lstat = os.lstat

    def counting_lstat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        calls.append(path)
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dirstamps.os, "lstat", counting_lstat)
    assert len(await listed(fs)) == 30
    assert calls == []
    await put(fs, "d/k00", b"changed")  # the directory changed: every file is looked at again
    assert len(await listed(fs)) == 30
    assert len(calls) >= 30


def test_an_unsettled_directory_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    assert DirStamps().known(str(tmp_path)) is None  # changed just now


def test_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_time_ns = time.time_ns
    monkeypatch.setattr(dirstamps.time, "time_ns", lambda: real_time_ns() + 10 * dirstamps.SETTLED_NS)
    stamps = DirStamps(limit=5)
    dirs = []
    for d in range(3):
        directory = tmp_path / f"d{d}"
        directory.mkdir()
        for i in range(4):
            (directory / f"f{i}").write_bytes(b"x" * i)
        dirs.append(directory)
    for directory in dirs:
        known = stamps.known(str(directory))
        assert known is not None
        for i in range(4):
            path = directory / f"f{i}"
            st = os.lstat(path)
            assert stamps.lstat(known, f"f{i}", str(path)) == (st.st_ino, i, st.st_mtime_ns)
        assert stamps.lstat(known, "gone", str(directory / "gone")) is None
    remembered = sum(len(k.files) for k in stamps._dirs.values())
    assert remembered <= 5
    assert stamps._count == remembered
