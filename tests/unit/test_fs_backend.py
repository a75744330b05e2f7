"""The filesystem backend beyond the contract: containment, crash leftovers, snapshots, laziness."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta
from backends.fs.backend import FsBackend, build
from backends.fs.nameindex import BucketIndex
from backends.fs.settings import Settings
from backends.fs.tempdirs import LOCK_NAME, LOOSE_SECONDS
from tests.helpers.bodies import BodyFailed, ChunkedBody, FailingBody, MiB, get_bytes, pattern, read_all

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fs(tmp_path: Path) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", name="fs-unit")
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def temporaries(root: Path) -> list[Path]:
    """Files in the temp area other than the per-process lock files."""
    return [p for p in files_under(root / ".s3bridge" / "tmp") if p.name != LOCK_NAME]


def test_settings_and_build(tmp_path: Path) -> None:
    settings = Settings.model_validate({"type": "fs", "root": str(tmp_path)})
    assert settings.fsync is True
    backend = build(settings, name="local", lookup=lambda name: pytest.fail("no lookup expected"))
    assert isinstance(backend, FsBackend)
    assert backend.name == "local"


async def test_nasty_keys_stay_inside_the_bucket(fs: FsBackend, tmp_path: Path) -> None:
    keys = ["../escape", "..", ".", "/etc/passwd", "a/../../../b", "./x/./y", "\x00", "../.s3bridge/tmp/x"]
    for key in keys:
        await fs.put_object("b", key, ChunkedBody(key.encode() or b"-"), ObjectMeta())
    bucket_dir = tmp_path / "root" / "b"
    # The key and directory write locks (fs keylocks, fs treeindex) and the listing index (fs nameindex).
    state = [tmp_path / "root" / ".s3bridge" / d for d in ("locks", "dirlocks", "index")]
    stored = [
        p for p in files_under(tmp_path) if p.name not in (".created", LOCK_NAME) and p.parent not in state
    ]
    assert len(stored) == len(keys)
    assert all(bucket_dir in p.parents for p in stored)
    page = await fs.list_objects("b")
    assert [o.key for o in page.objects] == sorted(keys)
    for key in keys:
        assert await get_bytes(fs, "b", key) == (key.encode() or b"-")


async def test_limits(fs: FsBackend) -> None:
    with pytest.raises(be.KeyTooLong):
        await fs.put_object("b", "k" * 1025, ChunkedBody(b"x"), ObjectMeta())
    key = "/".join(["%" * 100] * 10)[:1024]
    await fs.put_object("b", key, ChunkedBody(b"deep"), ObjectMeta())
    assert await get_bytes(fs, "b", key) == b"deep"
    for bad in ("../x", ".s3bridge", "a/b", ""):
        with pytest.raises(be.InvalidBucketName):
            await fs.create_bucket(bad)
        with pytest.raises(be.InvalidBucketName):
            await fs.head_object(bad, "k")


async def test_failed_upload_leaves_no_temp_file(fs: FsBackend, tmp_path: Path) -> None:
    with pytest.raises(BodyFailed):
        await fs.put_object("b", "k", FailingBody(pattern(3 * MiB), fail_after=2 * MiB), ObjectMeta())
    upload = await fs.create_multipart_upload("b", "m", ObjectMeta())
    with pytest.raises(BodyFailed):
        await fs.upload_part("b", "m", upload, 1, FailingBody(pattern(MiB), fail_after=MiB // 2))
    assert temporaries(tmp_path / "root") == []
    assert [p.name for p in files_under(tmp_path / "root" / "b")] == [".created"]


async def test_cancelled_upload_leaves_no_temp_file(fs: FsBackend, tmp_path: Path) -> None:
    class SlowBody(ChunkedBody):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"x" * MiB
            await anyio.sleep(30)
            yield b"never"

    with anyio.move_on_after(0.5):
        await fs.put_object("b", "k", SlowBody(b""), ObjectMeta())
    assert temporaries(tmp_path / "root") == []
    with pytest.raises(be.NoSuchKey):
        await fs.head_object("b", "k")


async def test_start_sweeps_stale_loose_temp_files_only(tmp_path: Path) -> None:
    """Loose files an older version left directly in the temp area go once a day old."""
    backend = FsBackend(tmp_path / "root")
    await backend.start()
    tmp = tmp_path / "root" / ".s3bridge" / "tmp"
    stale, fresh = tmp / "obj-stale", tmp / "obj-fresh"
    stale.write_bytes(b"half an object")
    fresh.write_bytes(b"another gateway's upload in flight")
    old = time.time() - LOOSE_SECONDS - 60
    os.utime(stale, (old, old))
    await FsBackend(tmp_path / "root").start()
    assert not stale.exists()
    assert fresh.exists()


async def test_live_process_temp_dirs_survive_another_start(tmp_path: Path) -> None:
    """Two backends on one root (two workers): starting the second never touches the first's files,
    and a clean close removes only the closer's own directory."""
    first = FsBackend(tmp_path / "root", fsync=False)
    await first.start()
    await first.create_bucket("b")
    upload = await first.create_multipart_upload("b", "m", ObjectMeta())
    in_flight = Path(first.tmp) / "obj-in-flight"
    in_flight.write_bytes(b"an upload being written")
    second = FsBackend(tmp_path / "root", fsync=False)
    await second.start()
    assert second.tmp != first.tmp and in_flight.read_bytes() == b"an upload being written"
    await second.put_object("b", "k", ChunkedBody(b"data"), ObjectMeta())
    await second.close()
    assert await anyio.Path(in_flight).exists() and await anyio.Path(first.tmp).is_dir()
    await first.upload_part("b", "m", upload, 1, ChunkedBody(b"part"))
    own = first.tmp
    await first.close()
    assert not await anyio.Path(own).exists()


async def test_reader_keeps_its_snapshot(fs: FsBackend) -> None:
    old, new = pattern(3 * MiB, seed=1), pattern(2 * MiB, seed=2)
    await fs.put_object("b", "k", ChunkedBody(old), ObjectMeta())
    reading = await fs.get_object("b", "k")
    first = await reading.body.__anext__()
    await fs.put_object("b", "k", ChunkedBody(new), ObjectMeta())
    assert first + await read_all(reading) == old
    reading = await fs.get_object("b", "k")
    await fs.delete_object("b", "k")
    assert await read_all(reading) == new


async def test_unstarted_body_closes_its_file(fs: FsBackend) -> None:
    await fs.put_object("b", "k", ChunkedBody(b"data"), ObjectMeta())
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        result = await fs.get_object("b", "k")
        await result.body.aclose()  # type: ignore[attr-defined]
    assert len(os.listdir("/proc/self/fd")) <= before


async def test_concurrent_overwrites_leave_one_whole_object(fs: FsBackend) -> None:
    bodies = [pattern(MiB + i, seed=i) for i in range(6)]
    async with anyio.create_task_group() as tg:
        for data in bodies:
            tg.start_soon(fs.put_object, "b", "k", ChunkedBody(data, 100_000), ObjectMeta())
    got = await get_bytes(fs, "b", "k")
    assert got in bodies
    assert (await fs.head_object("b", "k")).etag == hashlib.md5(got).hexdigest()


async def test_delete_prunes_directories_and_bucket_deletes(fs: FsBackend, tmp_path: Path) -> None:
    await fs.put_object("b", "x/y/z/deep", ChunkedBody(b"1"), ObjectMeta())
    await fs.delete_object("b", "x/y/z/deep")
    assert sorted(p.name for p in (tmp_path / "root" / "b").iterdir()) == [".created"]
    await fs.create_multipart_upload("b", "pending", ObjectMeta())
    await fs.delete_bucket("b")
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == [".s3bridge"]
    assert list((tmp_path / "root" / ".s3bridge" / "uploads").iterdir()) == []


async def test_corrupt_file_is_an_internal_error_and_not_listed(fs: FsBackend, tmp_path: Path) -> None:
    await fs.put_object("b", "good", ChunkedBody(b"1"), ObjectMeta())
    (tmp_path / "root" / "b" / "obad").write_bytes(b"not an object file")
    with pytest.raises(be.InternalBackendError):
        await fs.head_object("b", "bad")
    assert [o.key for o in (await fs.list_objects("b")).objects] == ["good"]


async def test_listing_opens_only_what_the_page_needs(fs: FsBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the listing index: the directories a page reads rows of, and that no directory is
    scanned (each was made, and announced, by the backend)."""
    for i in range(40):
        await fs.put_object("b", f"dir{i:02d}/sub/key", ChunkedBody(b"x"), ObjectMeta())
    opened: list[str] = []
    real_rows_from = BucketIndex.rows_from

    def counting_rows_from(self: BucketIndex, rel: str, low: str, letters: str) -> object:
        opened.append(rel)
        return real_rows_from(self, rel, low, letters)

    def no_scandir(path: str) -> object:
        raise AssertionError(f"scanned {path}")

    monkeypatch.setattr(BucketIndex, "rows_from", counting_rows_from)
    monkeypatch.setattr(os, "scandir", no_scandir)
    page = await fs.list_objects("b", delimiter="/", max_keys=2)
    assert page.common_prefixes == ["dir00/", "dir01/"]
    assert len(opened) == 1 + 3 * 2  # the bucket, then one chain per prefix, one more to see truncation
    opened.clear()
    page = await fs.list_objects("b", start_after="dir37/", max_keys=1000)
    assert [o.key for o in page.objects] == ["dir37/sub/key", "dir38/sub/key", "dir39/sub/key"]
    assert len(opened) == 1 + 3 * 2
    opened.clear()
    page = await fs.list_objects("b", prefix="dir05/")
    assert len(opened) == 3


async def test_composite_checksums_on_complete(fs: FsBackend) -> None:
    one, two = pattern(5 * MiB, seed=1), b"tail"
    crcs = [zlib.crc32(p).to_bytes(4, "big") for p in (one, two)]
    upload = await fs.create_multipart_upload("b", "k", ObjectMeta())
    for n, (data, crc) in enumerate(zip((one, two), crcs, strict=True), start=1):
        body = ChunkedBody(data, checksums={"crc32": base64.b64encode(crc).decode()})
        await fs.upload_part("b", "k", upload, n, body)
    parts = [CompletedPart(n, hashlib.md5(p).hexdigest()) for n, p in ((1, one), (2, two))]
    await fs.complete_multipart_upload("b", "k", upload, parts)
    head = await fs.head_object("b", "k")
    expected = base64.b64encode(zlib.crc32(b"".join(crcs)).to_bytes(4, "big")).decode() + "-2"
    assert head.meta.checksums == {"crc32": expected}
    assert head.meta.checksum_type == "COMPOSITE"


async def test_part_number_bounds(fs: FsBackend) -> None:
    upload = await fs.create_multipart_upload("b", "k", ObjectMeta())
    for number in (0, 10001):
        with pytest.raises(be.InvalidArgument):
            await fs.upload_part("b", "k", upload, number, ChunkedBody(b"x"))


async def test_puts_and_deletes_race_on_shared_directories(fs: FsBackend) -> None:
    keys = [f"p/q/r/key-{i}" for i in range(30)]

    async def churn(key: str) -> None:
        for _ in range(5):
            await fs.put_object("b", key, ChunkedBody(key.encode()), ObjectMeta())
            await fs.delete_object("b", key)
        await fs.put_object("b", key, ChunkedBody(key.encode()), ObjectMeta())

    async with anyio.create_task_group() as tg:
        for key in keys:
            tg.start_soon(churn, key)
    page = await fs.list_objects("b")
    assert [o.key for o in page.objects] == sorted(keys)
    for key in keys:
        assert await get_bytes(fs, "b", key) == key.encode()


async def test_max_uploads_zero(fs: FsBackend) -> None:
    await fs.create_multipart_upload("b", "k", ObjectMeta())
    page = await fs.list_multipart_uploads("b", max_uploads=0)
    assert (page.uploads, page.is_truncated) == ([], False)


async def test_unwritable_temp_dir_is_a_contract_error(fs: FsBackend, tmp_path: Path) -> None:
    """A filesystem refusing writes surfaces as AccessDenied (composites fall back on it), never raw."""
    from tests.helpers.faults import immutable

    await fs.create_bucket("locked")
    immutable(fs.tmp)
    try:
        with pytest.raises(be.AccessDenied):
            await fs.put_object("locked", "k", ChunkedBody(b"data", 2), ObjectMeta())
        with pytest.raises(be.AccessDenied):
            await fs.create_multipart_upload("locked", "k", ObjectMeta())
    finally:
        immutable(fs.tmp, on=False)
    with pytest.raises(be.NoSuchKey):
        await fs.head_object("locked", "k")


async def test_delete_bucket_racing_puts_loses_nothing(tmp_path: Path) -> None:
    """PUTs and a DeleteBucket at once: a PUT acknowledged while the delete also succeeded is a lost object."""
    fs = FsBackend(tmp_path / "race", name="fs-race", fsync=False)
    await fs.start()
    lost: list[str] = []
    try:
        for i in range(120):
            await fs.create_bucket("race")
            acknowledged: list[str] = []
            deleted: list[bool] = []

            async def put(key: str, acknowledged: list[str] = acknowledged) -> None:
                try:
                    await fs.put_object("race", key, ChunkedBody(b"x" * 10, 10), ObjectMeta())
                    acknowledged.append(key)
                except (be.NoSuchBucket, be.BucketNotEmpty):
                    pass

            async def delete(deleted: list[bool] = deleted) -> None:
                with contextlib.suppress(be.BucketNotEmpty):
                    await fs.delete_bucket("race")
                    deleted.append(True)

            async with anyio.create_task_group() as tg:
                for n in range(8):
                    tg.start_soon(put, f"r{i}/k{n}")
                tg.start_soon(delete)
                for n in range(8, 12):
                    tg.start_soon(put, f"r{i}/k{n}")
            if deleted:
                lost += acknowledged
            else:
                for key in acknowledged:
                    assert await get_bytes(fs, "race", key) == b"x" * 10
                    await fs.delete_object("race", key)
                await fs.delete_bucket("race")
    finally:
        await fs.close()
    assert lost == []


async def test_reads_of_a_missing_bucket_say_so_whatever_they_ask(fs: FsBackend, tmp_path: Path) -> None:
    """A read finds the bucket only through the object (no lookup first): one that fails still answers
    NoSuchBucket for a bucket that is not there, whatever else was wrong, and in a bucket that is, what
    went wrong."""
    with pytest.raises(be.NoSuchKey):
        await fs.get_object("b", "k")
    with pytest.raises(be.NoSuchKey):
        await fs.head_object("b", "deep/er/k")
    with pytest.raises(be.InvalidArgument):
        await fs.head_object("b", "k", "not-a-version-id")
    await anyio.Path(fs.root, "afile").write_bytes(b"not a bucket")
    for bucket in ("gone", "afile"):
        with pytest.raises(be.NoSuchBucket):
            await fs.get_object(bucket, "k")
        with pytest.raises(be.NoSuchBucket):
            await fs.head_object(bucket, "k", "null")
        with pytest.raises(be.NoSuchBucket):
            await fs.head_object(bucket, "k", "not-a-version-id")
        with pytest.raises(be.NoSuchBucket):
            await fs.get_object(bucket, "deep/er/k")
