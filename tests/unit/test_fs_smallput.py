"""A small PUT on the fs backend: one pool call, the temp file made only by it, the index row from what
the writer knows (and still the file's truth), failures leaving nothing behind."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backends.base import ObjectMeta
from backends.composite.retry import Retry
from backends.fs import format as fs_format
from backends.fs.backend import FsBackend
from backends.fs.core import WRITE_BATCH
from backends.fs.format import Record, TempFile, read_record_and_blob
from backends.fs.keys import OBJ
from tests.helpers.bodies import BodyFailed, ChunkedBody, FailingBody, pattern, read_all

pytestmark = pytest.mark.anyio


class Md5Body(ChunkedBody):
    """A body that hashes its MD5 as it goes, as the gateway's request body does (``ComputesMd5``)."""

    def __init__(self, data: bytes, chunk: int = 65_537, **kwargs: Any):
        super().__init__(data, chunk, **kwargs)
        self._asked = False

    def compute_md5(self) -> bool:
        self._asked = True
        return True

    @property
    def md5_hex(self) -> str | None:
        return hashlib.md5(self.data).hexdigest() if self._asked else None  # noqa: S324


class FailingMd5Body(FailingBody, Md5Body):
    pass


@pytest.fixture(params=[True, False], ids=["fsync", "nofsync"])
async def fs(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", name="fs-smallput", fsync=request.param)
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


def count_pool_calls(fs: FsBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the pool calls the backend makes from now on (each still made, on the pool)."""
    calls: list[str] = []
    real = fs.io.run

    async def counted(fn: Callable[..., Any], *args: Any) -> Any:
        calls.append(getattr(fn, "__qualname__", repr(fn)))
        return await real(fn, *args)

    monkeypatch.setattr(fs.io, "run", counted)
    return calls


async def test_a_small_put_is_one_pool_call_and_reads_back(
    fs: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fs.put_object("b", "dir/warm", Md5Body(b"warm"), ObjectMeta())  # the bucket's inode cached
    data = pattern(4096, seed=7)
    calls = count_pool_calls(fs, monkeypatch)
    info = await fs.put_object("b", "dir/small", Md5Body(data), ObjectMeta(user={"a": "1"}))
    assert len(calls) == 1, calls
    assert info.etag == hashlib.md5(data).hexdigest() and info.size == len(data)  # noqa: S324
    got = await fs.get_object("b", "dir/small")
    assert await read_all(got) == data and got.info.meta.user == {"a": "1"}
    assert not [n for n in os.listdir(fs.tmp) if n.startswith("obj-")]


async def test_a_body_of_a_batch_or_more_still_streams_to_the_file(
    fs: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pattern(WRITE_BATCH * 2 + 5, seed=8)
    calls = count_pool_calls(fs, monkeypatch)
    await fs.put_object("b", "big", Md5Body(data, chunk=WRITE_BATCH // 4), ObjectMeta())
    assert len([c for c in calls if "write" in c]) == 3  # two full batches, then the tail
    assert await read_all(await fs.get_object("b", "big")) == data


async def test_the_index_row_holds_the_published_files_stat_and_record(fs: FsBackend) -> None:
    """The row the listing trusts while the file's (inode, size, mtime) still match: written from the
    temp file's own stat after its last write, it must equal what the published file says."""
    for key in ("k", "deep/er/k"):
        await fs.put_object("b", key, Md5Body(pattern(100, seed=9)), ObjectMeta())
        await fs.put_object("b", key, Md5Body(pattern(4096, seed=10)), ObjectMeta())  # overwrite
    base = os.path.join(fs.root, "b")
    for rel, name in (("", "ok"), (os.path.join("ddeep", "der"), "ok")):
        rows = fs.tree.indexes.call(base, lambda ix, rel=rel: list(ix.rows_from(rel, "", OBJ)))
        (row,) = [r for r in rows if r[2] == name]
        _, st, blob = read_record_and_blob(os.path.join(base, rel, name))
        assert row[3:] == (st.st_ino, st.st_size, st.st_mtime_ns, blob)
    page = await fs.list_objects_listed("b")
    assert [(o.key, o.size) for o in page.objects] == [("deep/er/k", 4096), ("k", 4096)]


async def test_a_failed_small_body_leaves_nothing(fs: FsBackend) -> None:
    with pytest.raises(BodyFailed):
        await fs.put_object("b", "k", FailingMd5Body(pattern(4096, seed=11), fail_after=1000), ObjectMeta())
    assert not [n for n in os.listdir(fs.tmp) if n.startswith("obj-")]
    assert (await fs.list_objects("b")).objects == []


async def test_versioned_small_puts_keep_every_version(fs: FsBackend) -> None:
    await fs.put_bucket_versioning("b", "Enabled")
    first, second = pattern(10, seed=12), pattern(20, seed=13)
    one = await fs.put_object("b", "k", Md5Body(first), ObjectMeta())
    two = await fs.put_object("b", "k", Md5Body(second), ObjectMeta())
    assert one.version_id and two.version_id and one.version_id != two.version_id
    assert await read_all(await fs.get_object("b", "k", version_id=one.version_id)) == first
    assert await read_all(await fs.get_object("b", "k")) == second


def test_a_deferred_temp_file_is_made_only_by_a_write(tmp_path: Path) -> None:
    temp = TempFile(str(tmp_path), deferred=True)
    temp.hold(b"held bytes")
    assert not temp.opened and os.listdir(tmp_path) == []
    temp.finish(Record("e", 1, {"x": 1}, size=temp.size), fsync=True)
    assert temp.opened and os.listdir(tmp_path) == [os.path.basename(temp.path)]
    record, st, blob = read_record_and_blob(temp.path)
    assert Path(temp.path).read_bytes()[: record.size] == b"held bytes" and record.meta == {"x": 1}
    assert temp.written is not None
    known, known_blob = temp.written
    assert (known.st_ino, known.st_size, known.st_mtime_ns, known_blob) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        blob,
    )
    assert temp.md5_hex == hashlib.md5(b"held bytes").hexdigest()  # noqa: S324
    never = TempFile(str(tmp_path), deferred=True)
    never.hold(b"x")
    never.discard()
    assert os.listdir(tmp_path) == [os.path.basename(temp.path)]


@pytest.mark.parametrize("size", [0, 1, 65_000, WRITE_BATCH - 1])
def test_held_bytes_of_any_size_land_before_the_record(tmp_path: Path, size: int) -> None:
    data = pattern(size, seed=14)
    temp = TempFile(str(tmp_path), md5_from=lambda: "etag", deferred=True)
    temp.hold(data)
    temp.finish(Record("etag", 1, {}, size=temp.size), fsync=False)
    record, _, _ = read_record_and_blob(temp.path)
    assert record.size == size and Path(temp.path).read_bytes()[:size] == data


@pytest.mark.parametrize("size", [4096, 3 * WRITE_BATCH + 5], ids=["small", "batched"])
async def test_a_put_through_retry_takes_the_bodys_md5(
    fs: FsBackend, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Retry's body wrapper passes ``ComputesMd5`` on: fs uses the MD5 the body computed while verifying
    it (the gateway's request body) instead of hashing every byte again."""
    made: list[int] = []
    real = hashlib.md5

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fs_format, "hashlib", SimpleNamespace(md5=counting))
    data = pattern(size)
    info = await Retry(fs, attempts=2, base_delay=0.01).put_object("b", "k", Md5Body(data), ObjectMeta())
    assert made == []
    assert info.etag == hashlib.md5(data).hexdigest()  # noqa: S324
    assert (await fs.head_object("b", "k")).etag == info.etag
    plain = await Retry(fs, attempts=2, base_delay=0.01).put_object("b", "p", ChunkedBody(data), ObjectMeta())
    assert made == [1]  # a body that computes nothing is hashed by fs, as before
    assert plain.etag == info.etag
