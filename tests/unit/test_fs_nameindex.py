"""The fs listing index (fs nameindex, fs treeindex) never hides a key the directories hold: data written
without it, a missing or damaged index, a process killed between announcing a name and publishing it
(or between a delete and its cleanup), commits lost with a reboot, writers in several processes at
once, deletes; and a record it caches is never shown for a file that changed."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.base import ObjectMeta
from backends.fs.backend import FsBackend
from backends.fs.format import Record, footer_bytes, meta_to_dict
from backends.fs.keys import key_components, key_from_components
from tests.helpers.bodies import ChunkedBody

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fs(tmp_path: Path) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", name="fs-index", fsync=False)
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


def write_raw(bucket_dir: Path, key: str, data: bytes = b"") -> None:
    """An object file as an older gateway (no index) left it."""
    parts = key_components(key)
    directory = bucket_dir.joinpath(*parts[:-1])
    directory.mkdir(parents=True, exist_ok=True)
    record = Record(hashlib.md5(data).hexdigest(), time.time_ns(), meta_to_dict(ObjectMeta()))
    (directory / parts[-1]).write_bytes(data + footer_bytes(record))


def on_disk(bucket_dir: Path) -> list[str]:
    """Every key whose object file is on disk: the truth the index must not contradict."""
    keys = []
    for dirpath, _, files in os.walk(bucket_dir):
        rel = Path(dirpath).relative_to(bucket_dir).parts
        if rel and rel[0].startswith("."):
            continue
        keys += [key_from_components([*rel, name]) for name in files if name.startswith("o")]
    return sorted(keys, key=lambda k: k.encode())


def model(keys: list[str], prefix: str, delimiter: str) -> list[str]:
    """A whole listing as S3 defines it: keys and common prefixes, in UTF-8 binary order."""
    out: list[str] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = key if cut < 0 else key[: cut + len(delimiter)]
        if not out or out[-1] != entry:
            out.append(entry)
    return out


async def listed(
    fs: FsBackend, bucket: str, prefix: str = "", delimiter: str = "", max_keys: int = 1000
) -> list[str]:
    """A whole listing, page after page."""
    out: list[str] = []
    marker = ""
    for _ in range(10_000):
        page = await fs.list_objects(bucket, prefix, delimiter, marker, max_keys)
        entries = sorted([o.key for o in page.objects] + page.common_prefixes, key=lambda k: k.encode())
        out += entries
        if not page.is_truncated:
            return out
        assert page.next_marker is not None
        marker = page.next_marker
    raise AssertionError("listing did not end")


def nasty_keys(n: int) -> list[str]:
    rng = random.Random(15)
    alphabet = ["a", "b", "a/", "b/", "-", "~", "é", "/", "%", "\x00"]
    keys = {"a", "a/", "a/b", "ab", "a-b", "a/b/c", "b" * 300, "b" * 300 + "/x", "c" * 600, "c" * 600 + "d"}
    while len(keys) < n:
        keys.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))))
    return sorted(keys)


def index_file(fs: FsBackend, bucket: str) -> Path:
    bucket_dir = os.path.join(fs.root, bucket)
    return Path(fs.tree.indexes.path(bucket_dir, fs.tree.indexes.generation(bucket_dir)))


def rows(fs: FsBackend, bucket: str) -> list[tuple[str, str]]:
    with sqlite3.connect(index_file(fs, bucket)) as conn:
        return sorted(conn.execute("SELECT dir, name FROM entries").fetchall())


@pytest.mark.parametrize("max_keys", [1, 3, 1000])
async def test_data_written_without_an_index_lists_whole(
    fs: FsBackend, tmp_path: Path, max_keys: int
) -> None:
    keys = nasty_keys(150)
    (tmp_path / "root" / "old").mkdir()  # a bucket an older gateway made, with its objects
    for key in keys:
        write_raw(tmp_path / "root" / "old", key)
    for prefix, delimiter in [("", ""), ("", "/"), ("a", ""), ("a/", "/"), ("b" * 300, "/"), ("c", "d")]:
        assert await listed(fs, "old", prefix, delimiter, max_keys) == model(keys, prefix, delimiter)
    for start_after in ["", "a", "a/", "a/b", "b/", "b" * 300, "c" * 600]:
        page = await fs.list_objects("old", "", "", start_after, 1000)
        assert [o.key for o in page.objects] == [
            k for k in model(keys, "", "") if k.encode() > start_after.encode()
        ]


async def test_missing_index_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fs = FsBackend(root, fsync=False)
    await fs.start()
    await fs.create_bucket("b")
    keys = [f"d{i % 7}/k{i}" for i in range(60)]
    for key in keys:
        await fs.put_object("b", key, ChunkedBody(b"x"), ObjectMeta())
    await fs.close()
    for path in (root / ".s3bridge" / "index").iterdir():
        path.unlink()
    fs = FsBackend(root, fsync=False)
    await fs.start()
    try:
        assert await listed(fs, "b", max_keys=7) == sorted(keys)
        assert await listed(fs, "b", delimiter="/") == [f"d{i}/" for i in range(7)]
    finally:
        await fs.close()


async def test_damaged_index_is_replaced_by_the_next_generation(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fs = FsBackend(root, fsync=False)
    await fs.start()
    await fs.create_bucket("b")
    for i in range(20):
        await fs.put_object("b", f"p/k{i:02d}", ChunkedBody(b"x"), ObjectMeta())
    damaged = index_file(fs, "b")
    await fs.close()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{damaged}{suffix}")
    damaged.write_bytes(b"this is not a database, " * 100)
    fs = FsBackend(root, fsync=False)
    await fs.start()
    try:
        assert await listed(fs, "b") == [f"p/k{i:02d}" for i in range(20)]
        assert index_file(fs, "b") != damaged  # the damaged one is left for whoever still has it open
        await fs.put_object("b", "p/new", ChunkedBody(b"x"), ObjectMeta())
        await fs.delete_object("b", "p/k00")
        assert await listed(fs, "b") == [*(f"p/k{i:02d}" for i in range(1, 20)), "p/new"]
    finally:
        await fs.close()


def _run_and_die(root: Path, script: str) -> None:
    """Run ``script`` in a child process with a backend on ``root``; it must end by ``os._exit(9)``."""
    program = (
        textwrap.dedent(
            f"""
        import asyncio, os, sys
        sys.path.insert(0, {str(REPO)!r})
        from backends.base import ObjectMeta
        from backends.fs.backend import FsBackend
        from tests.helpers.bodies import ChunkedBody

        async def main():
            fs = FsBackend({str(root)!r}, fsync=False)
            await fs.start()
        """
        )
        + textwrap.indent(textwrap.dedent(script), "    ")
        + "\nasyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()


async def test_killed_between_announce_and_publish(fs: FsBackend, tmp_path: Path) -> None:
    """The row is there, the file never came: the key is not listed, and the row goes."""
    await fs.put_object("b", "dir/kept", ChunkedBody(b"x"), ObjectMeta())
    _run_and_die(
        tmp_path / "root",
        """
        real_rename = os.rename
        def rename(src, dst):
            if "/b/" in dst:
                os._exit(9)  # killed after the row was committed, before the object file appeared
            real_rename(src, dst)
        os.rename = rename
        await fs.put_object("b", "dir/never", ChunkedBody(b"y"), ObjectMeta())
        """,
    )
    assert ("ddir", "onever") in rows(fs, "b")
    assert await listed(fs, "b") == ["dir/kept"]
    assert ("ddir", "onever") not in rows(fs, "b")  # the listing removed it (under the key's lock)
    await fs.put_object("b", "dir/never", ChunkedBody(b"z"), ObjectMeta())
    assert await listed(fs, "b") == ["dir/kept", "dir/never"]


async def test_killed_between_delete_and_its_cleanup(fs: FsBackend, tmp_path: Path) -> None:
    for key in ("x/gone", "x/kept"):
        await fs.put_object("b", key, ChunkedBody(b"x"), ObjectMeta())
    _run_and_die(
        tmp_path / "root",
        """
        real_unlink = os.unlink
        def unlink(path, *args, **kwargs):
            real_unlink(path, *args, **kwargs)
            if path.endswith("ogone"):
                os._exit(9)  # the file went; its row, and the directory's pruning, did not happen
        os.unlink = unlink
        await fs.delete_object("b", "x/gone")
        """,
    )
    assert await listed(fs, "b") == ["x/kept"]
    assert ("dx", "ogone") not in rows(fs, "b")


async def test_commits_lost_with_a_reboot_are_found_again(fs: FsBackend) -> None:
    """A power cut may lose the index's last commits (no fsync per commit) while the files they
    announced were fsynced: a directory last verified in another boot is verified again."""
    for i in range(30):
        await fs.put_object("b", f"q/k{i:02d}", ChunkedBody(b"x"), ObjectMeta())
    with sqlite3.connect(index_file(fs, "b")) as conn:
        conn.execute("DELETE FROM entries WHERE name > 'ok1'")  # what the lost WAL tail held
        conn.execute("UPDATE dirs SET boot = 'the boot before the power cut'")
    assert await listed(fs, "b") == [f"q/k{i:02d}" for i in range(30)]


async def test_deletes_leave_no_rows_nor_directories(fs: FsBackend, tmp_path: Path) -> None:
    keys = [f"a/b{i % 3}/c{i % 5}/k{i}" for i in range(40)]
    for key in keys:
        await fs.put_object("b", key, ChunkedBody(b"x"), ObjectMeta())
    for key in keys[::2]:
        await fs.delete_object("b", key)
    assert await listed(fs, "b") == sorted(keys[1::2])
    for key in keys[1::2]:
        await fs.delete_object("b", key)
    assert await listed(fs, "b") == []
    assert rows(fs, "b") == []
    assert [p.name for p in (tmp_path / "root" / "b").iterdir()] == [".created"]


async def test_cached_record_is_not_shown_for_a_file_that_changed(fs: FsBackend, tmp_path: Path) -> None:
    await fs.put_object("b", "k", ChunkedBody(b"1"), ObjectMeta())
    await fs.put_object("b", "other", ChunkedBody(b"12345"), ObjectMeta())
    bucket_dir = tmp_path / "root" / "b"
    os.link(bucket_dir / "oother", bucket_dir / "tmp-copy")
    os.replace(bucket_dir / "tmp-copy", bucket_dir / "ok")  # behind the index's back
    page = await fs.list_objects("b")
    assert [(o.key, o.size, o.etag) for o in page.objects] == [
        ("k", 5, hashlib.md5(b"12345").hexdigest()),
        ("other", 5, hashlib.md5(b"12345").hexdigest()),
    ]


async def test_a_promoted_version_is_listed_as_itself(fs: FsBackend) -> None:
    await fs.put_bucket_versioning("b", "Enabled")
    await fs.put_object("b", "v/k", ChunkedBody(b"first"), ObjectMeta())
    newer = await fs.put_object("b", "v/k", ChunkedBody(b"second!"), ObjectMeta())
    assert [(o.key, o.size) for o in (await fs.list_objects("b")).objects] == [("v/k", 7)]
    await fs.delete_object("b", "v/k", version_id=newer.version_id)  # the first is current again
    assert [(o.key, o.size) for o in (await fs.list_objects("b")).objects] == [("v/k", 5)]
    marker = await fs.delete_object("b", "v/k")
    assert (await fs.list_objects("b")).objects == []
    assert marker is not None
    await fs.delete_object("b", "v/k", version_id=marker.version_id)
    assert [(o.key, o.size) for o in (await fs.list_objects("b")).objects] == [("v/k", 5)]


def _churn(root: str, worker: int, rounds: int) -> None:
    """One writer process: puts and deletes on keys other processes share directories (and keys) with."""
    import anyio

    async def main() -> None:
        fs = FsBackend(root, fsync=False)
        await fs.start()
        rng = random.Random(worker)
        try:
            for _ in range(rounds):
                key = f"s{rng.randrange(4)}/t{rng.randrange(3)}/k{rng.randrange(12)}"
                if rng.random() < 0.6:
                    await fs.put_object("b", key, ChunkedBody(f"{worker}".encode()), ObjectMeta())
                else:
                    await fs.delete_object("b", key)
        finally:
            await fs.close()

    anyio.run(main)


async def test_writers_in_several_processes(fs: FsBackend, tmp_path: Path) -> None:
    """Writers in three processes making and pruning the same directories, a listing going on all the
    while: it always shows the keys nobody touches, and at the end exactly what is on disk."""
    stable = [f"s{i}/stable" for i in range(4)] + ["s0/t0/stable"]
    for key in stable:
        await fs.put_object("b", key, ChunkedBody(b"s"), ObjectMeta())
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_churn, args=(str(tmp_path / "root"), w, 150)) for w in range(3)]
    for process in workers:
        process.start()
    try:
        while any(p.is_alive() for p in workers):
            seen = await listed(fs, "b", max_keys=7)
            assert set(stable) <= set(seen)
    finally:
        for process in workers:
            process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    assert await listed(fs, "b") == on_disk(tmp_path / "root" / "b")
    assert await listed(fs, "b", delimiter="/") == model(on_disk(tmp_path / "root" / "b"), "", "/")


async def test_many_buckets_keep_few_indexes_open(fs: FsBackend) -> None:
    """Each thread keeps a bounded number of indexes open (three descriptors each); one closed and
    opened again still lists everything."""
    from backends.fs.nameindex import CONNECTIONS_PER_THREAD

    buckets = [f"many{i:02d}" for i in range(CONNECTIONS_PER_THREAD * 2 + 3)]
    for name in buckets:
        await fs.create_bucket(name)
        await fs.put_object(name, f"{name}/k", ChunkedBody(b"x"), ObjectMeta())
    for _ in range(2):
        for name in buckets:
            assert await listed(fs, name) == [f"{name}/k"]
    descriptors = len(os.listdir("/proc/self/fd"))
    assert descriptors < 3 * CONNECTIONS_PER_THREAD * (fs.io.threads + 1) + 64
