"""Listing pages kept while their directories are settled and unchanged (fs pagecache) show every
change the moment it is made: writes, overwrites, deletes, files removed behind the backend's back,
keys under a rolled-up common prefix. The clock is moved ahead so the test's directories count as
settled at once; the directories' stamps are the real ones the filesystem gives."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.base import Listed, ListedPage, ObjectMeta
from backends.fs import dirstamps
from backends.fs.backend import FsBackend
from backends.fs.dirstamps import DirStamps
from backends.fs.pagecache import PageCache
from tests.helpers.bodies import ChunkedBody

pytestmark = pytest.mark.anyio


def settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = dirstamps.SETTLED_NS + 10**9
    real_time_ns = time.time_ns
    monkeypatch.setattr(dirstamps.time, "time_ns", lambda: real_time_ns() + ahead)


@pytest.fixture
async def fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FsBackend]:
    settle_at_once(monkeypatch)
    backend = FsBackend(tmp_path / "root", name="fs-pages")
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


async def put(fs: FsBackend, key: str, data: bytes = b"x") -> None:
    await fs.put_object("b", key, ChunkedBody(data), ObjectMeta())


async def keys(
    fs: FsBackend, prefix: str = "", delimiter: str = "", after: str = "", most: int = 1000
) -> list[str]:
    """The light page (what the gateway asks for) as keys and common prefixes, checked against the
    page in the full form, which is never kept."""
    light = await fs.list_objects_listed("b", prefix, delimiter, after, most)
    full = await fs.list_objects("b", prefix, delimiter, after, most)
    shown = [(o.key, o.size, o.etag) for o in light.objects]
    assert shown == [(o.key, o.size, o.etag) for o in full.objects]
    assert (light.common_prefixes, light.is_truncated, light.next_marker) == (
        full.common_prefixes,
        full.is_truncated,
        full.next_marker,
    )
    return [o.key for o in light.objects] + light.common_prefixes


def drop_rows(tmp_path: Path) -> None:
    """Empty the bucket's index behind the backend's back: a walk then lists nothing, a kept page
    still lists what it listed."""
    (index,) = (tmp_path / "root" / ".s3bridge" / "index").glob("b.*.sqlite")
    with sqlite3.connect(index) as conn:
        conn.execute("DELETE FROM entries WHERE substr(name, 1, 1) = 'o'")


async def test_a_repeated_page_is_kept(fs: FsBackend, tmp_path: Path) -> None:
    for i in range(5):
        await put(fs, f"d/k{i}")
    assert await keys(fs, "d/") == [f"d/k{i}" for i in range(5)]
    drop_rows(tmp_path)
    light = await fs.list_objects_listed("b", "d/")
    assert [o.key for o in light.objects] == [f"d/k{i}" for i in range(5)]  # kept: no rows read
    assert (await fs.list_objects("b", "d/")).objects == []  # the walk reads the emptied index


async def test_changes_show_at_once(fs: FsBackend, tmp_path: Path) -> None:
    for i in range(5):
        await put(fs, f"d/k{i}")
    await put(fs, "top")
    assert await keys(fs) == ["d/k0", "d/k1", "d/k2", "d/k3", "d/k4", "top"]
    await put(fs, "d/k1", b"longer")  # replaced by a rename
    got = await fs.list_objects_listed("b")
    assert [(o.key, o.size) for o in got.objects][1] == ("d/k1", 6)
    await fs.delete_object("b", "d/k2")
    assert await keys(fs) == ["d/k0", "d/k1", "d/k3", "d/k4", "top"]
    await put(fs, "d/e/deeper")  # a new directory under an opened one
    assert await keys(fs) == ["d/e/deeper", "d/k0", "d/k1", "d/k3", "d/k4", "top"]
    await put(fs, "d/e/deeper2")  # a change in a directory the page opened only
    assert await keys(fs) == ["d/e/deeper", "d/e/deeper2", "d/k0", "d/k1", "d/k3", "d/k4", "top"]
    [victim] = [p for p in (tmp_path / "root" / "b").rglob("ok3") if p.is_file()]
    os.unlink(victim)  # behind the backend's back
    assert await keys(fs) == ["d/e/deeper", "d/e/deeper2", "d/k0", "d/k1", "d/k4", "top"]


async def test_pages_and_common_prefixes(fs: FsBackend) -> None:
    for key in ("a/1", "a/2", "b/x/1", "c"):
        await put(fs, key)
    assert await keys(fs, delimiter="/") == ["c", "a/", "b/"]
    assert await keys(fs, delimiter="/", most=1) == ["a/"]
    assert await keys(fs, delimiter="/", after="a/", most=1) == ["b/"]
    await fs.delete_object("b", "b/x/1")  # the prefix's last key: the prefix goes with it
    assert await keys(fs, delimiter="/") == ["c", "a/"]
    assert await keys(fs, delimiter="/", after="a/", most=1) == ["c"]
    await put(fs, "b/y")
    assert await keys(fs, delimiter="/") == ["c", "a/", "b/"]
    page = await fs.list_objects_listed("b", "", "/", "", 2)
    assert (page.is_truncated, page.next_marker) == (True, "b/")


async def test_a_page_with_a_stale_row_is_not_kept(fs: FsBackend, tmp_path: Path) -> None:
    for key in ("d/a", "d/b"):
        await put(fs, key)
    tree = fs.tree
    [victim] = [p for p in (tmp_path / "root" / "b").rglob("ob") if p.is_file()]
    os.unlink(victim)
    assert await keys(fs) == ["d/a"]
    assert len(tree.pages) == 0  # the walk met a row without its file: its page is not kept
    assert await keys(fs) == ["d/a"]
    assert len(tree.pages) == 1


async def test_an_unsettled_directory_keeps_no_page(tmp_path: Path) -> None:
    backend = FsBackend(tmp_path / "root", name="fs-pages-now")
    await backend.start()
    try:
        await backend.create_bucket("b")
        await backend.put_object("b", "k", ChunkedBody(b"x"), ObjectMeta())
        assert [o.key for o in (await backend.list_objects_listed("b")).objects] == ["k"]
        assert len(backend.tree.pages) == 0  # written just now
    finally:
        await backend.close()


def _page(n: int) -> ListedPage:
    return ListedPage([Listed(f"k{i}", 1, "e", 0, (), None) for i in range(n)], [], False)


def test_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settle_at_once(monkeypatch)
    cache = PageCache(DirStamps(), limit=25)
    depends = {str(tmp_path): DirStamps().known(str(tmp_path)).stamp}  # type: ignore[union-attr]
    for n in range(10):
        cache.put((str(tmp_path), f"p{n}", "", "", 1000), _page(10), depends, cache.epoch(str(tmp_path)))
        assert len(cache) <= 25
    assert cache.get((str(tmp_path), "p9", "", "", 1000)) == _page(10)
    assert cache.get((str(tmp_path), "p0", "", "", 1000)) is None  # the oldest went first
    cache.put((str(tmp_path), "big", "", "", 1000), _page(30), depends, 0)
    assert cache.get((str(tmp_path), "big", "", "", 1000)) is None  # larger than the whole cache


def test_a_page_walked_while_the_bucket_was_forgotten_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle_at_once(monkeypatch)
    cache = PageCache(DirStamps())
    base = str(tmp_path)
    depends = {base: DirStamps().known(base).stamp}  # type: ignore[union-attr]
    epoch = cache.epoch(base)
    cache.forget(base)  # stale rows removed while the page was walked
    cache.put((base, "", "", "", 1000), _page(3), depends, epoch)
    assert cache.get((base, "", "", "", 1000)) is None
    cache.put((base, "", "", "", 1000), _page(3), depends, cache.epoch(base))
    assert cache.get((base, "", "", "", 1000)) == _page(3)
    (tmp_path / "new").touch()
    assert cache.get((base, "", "", "", 1000)) is None  # the directory changed
