"""The filesystem backend's fast paths: small reads whole in the opening call, shared directory fsyncs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from backends import errors as be
from backends.base import ByteRange, ObjectMeta
from backends.fs.backend import WHOLE_READ, FsBackend
from backends.fs.dirsync import DirSync
from backends.fs.io import FileBody
from backends.wholebody import WholeBody
from tests.helpers.bodies import ChunkedBody, pattern, read_all

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fs(tmp_path: Path) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", name="fs-fast", fsync=True)
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


async def test_small_objects_and_small_ranges_come_whole(fs: FsBackend) -> None:
    small, large = pattern(WHOLE_READ, seed=1), pattern(WHOLE_READ + 1, seed=2)
    await fs.put_object("b", "small", ChunkedBody(small, 65536), ObjectMeta())
    await fs.put_object("b", "large", ChunkedBody(large, 65536), ObjectMeta())
    await fs.put_object("b", "empty", ChunkedBody(b""), ObjectMeta())

    got = await fs.get_object("b", "small")
    assert isinstance(got.body, WholeBody) and got.body.data == small and await read_all(got) == small
    got = await fs.get_object("b", "empty")
    assert isinstance(got.body, WholeBody) and await read_all(got) == b""
    got = await fs.get_object("b", "large")
    assert isinstance(got.body, FileBody) and await read_all(got) == large
    got = await fs.get_object("b", "large", ByteRange(10, 20))
    assert isinstance(got.body, WholeBody) and got.span == (10, 20) and await read_all(got) == large[10:21]
    got = await fs.get_object("b", "large", ByteRange(None, 5))
    assert await read_all(got) == large[-5:]


async def test_small_reads_leave_no_descriptor_and_bad_ranges_still_fail(fs: FsBackend) -> None:
    await fs.put_object("b", "k", ChunkedBody(b"data"), ObjectMeta())
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        await fs.get_object("b", "k")  # never iterated: nothing is left open
        with pytest.raises(be.InvalidRange):
            await fs.get_object("b", "k", ByteRange(10, 20))
    with pytest.raises(be.NoSuchKey):
        await fs.get_object("b", "absent")
    assert len(os.listdir("/proc/self/fd")) <= before


async def test_concurrent_puts_to_one_directory_all_land(fs: FsBackend) -> None:
    bodies = {f"d/k{i}": pattern(4096, seed=i) for i in range(24)}
    async with anyio.create_task_group() as tg:
        for key, data in bodies.items():
            tg.start_soon(fs.put_object, "b", key, ChunkedBody(data), ObjectMeta())
    for key, data in bodies.items():
        assert await read_all(await fs.get_object("b", key)) == data


def test_dir_sync_is_shared_yet_each_caller_gets_a_later_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every caller returns only after an fsync of its directory that started after it called; under
    concurrency, fewer fsyncs than callers run."""
    fsyncs: list[tuple[float, float]] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        start = time.monotonic()
        time.sleep(0.02)  # a disk flush takes time, so callers pile up behind it
        real_fsync(fd)
        fsyncs.append((start, time.monotonic()))

    monkeypatch.setattr(os, "fsync", slow_fsync)
    sync = DirSync()
    calls: list[tuple[float, float]] = []
    lock = threading.Lock()

    def caller() -> None:
        entered = time.monotonic()
        sync.sync(str(tmp_path))
        with lock:
            calls.append((entered, time.monotonic()))

    threads = [threading.Thread(target=caller) for _ in range(32)]
    for t in threads:
        t.start()
        time.sleep(0.001)
    for t in threads:
        t.join(timeout=30)
    assert len(calls) == 32
    assert 1 <= len(fsyncs) < 32
    for entered, returned in calls:
        assert any(start >= entered and end <= returned for start, end in fsyncs), (entered, fsyncs)
    assert sync._dirs == {}  # nothing kept once every caller is done


def test_dir_sync_failure_is_not_shared_as_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", failing)
    sync = DirSync()
    with pytest.raises(OSError):
        sync.sync(str(tmp_path))
    assert sync._dirs == {}
    sync.sync(str(tmp_path / "gone"))  # a directory pruned meanwhile has nothing left to flush


def test_writeback_starts_every_few_mib_of_a_file_to_be_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fsync on, write-out of what was written is asked for every EVERY bytes, range after range,
    so the final fdatasync has little left; the bytes in the file are untouched by it."""
    from backends.fs import writeback
    from backends.fs.format import Record, TempFile

    if writeback._sync_file_range is None:
        pytest.skip("no sync_file_range here")
    asked: list[tuple[int, int]] = []
    real = writeback._sync_file_range

    def recording(fd: int, offset: int, length: int, flags: int) -> int:
        asked.append((offset, length))
        return int(real(fd, offset, length, flags))

    monkeypatch.setattr(writeback, "_sync_file_range", recording)
    data = pattern(writeback.EVERY * 2 + 12345, seed=3)
    temp = TempFile(str(tmp_path), writeback=True)
    for pos in range(0, len(data), 1 << 20):
        temp.write(data[pos : pos + (1 << 20)])
    temp.finish(Record("etag", 0, {}, size=len(data)), fsync=True)
    assert asked == [(0, writeback.EVERY), (writeback.EVERY, writeback.EVERY)]
    assert Path(temp.path).read_bytes()[: len(data)] == data
    quiet = TempFile(str(tmp_path))  # not to be fsynced: nothing asked
    quiet.write(data)
    quiet.discard()
    assert len(asked) == 2
