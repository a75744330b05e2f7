"""Mirror and its tee, over real filesystem stores (one made immutable) and members whose failures
follow a script (``tests.helpers.fake_backend``)."""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta
from backends.composite.mirror import Mirror, decode_upload_id
from backends.composite.streams import Tee
from backends.fs.backend import FsBackend
from backends.served import served_by
from tests.helpers.bodies import (
    BodyFailed,
    ChunkedBody,
    FailingBody,
    GeneratedBody,
    MiB,
    get_bytes,
    md5_hex,
    pattern,
)
from tests.helpers.fake_backend import ScriptedBackend
from tests.helpers.faults import immutable

pytestmark = pytest.mark.anyio


def fs(root: Path, name: str) -> FsBackend:
    return FsBackend(root / name, name=name, fsync=False)


@pytest.fixture
async def trio_(tmp_path: Path) -> AsyncIterator[tuple[Mirror, list[FsBackend]]]:
    members = [fs(tmp_path, f"m{i}") for i in range(3)]
    mirror = Mirror(members, write_quorum=2)
    await mirror.start()
    await mirror.create_bucket("b")
    yield mirror, members
    await mirror.close()


async def test_tee_is_bounded_and_paced_by_the_slowest() -> None:
    data = pattern(200 * 1000, seed=5)
    tee = Tee(ChunkedBody(data, 1000), 3, window=4)
    peak = 0
    got: list[bytearray] = [bytearray(), bytearray()]

    async def reader(n: int, delay: float) -> None:
        nonlocal peak
        async for chunk in tee.branches[n]:
            got[n] += chunk
            peak = max(peak, tee.buffered)
            await anyio.sleep(delay)
        await tee.drop(n)

    async def quitter() -> None:  # a member that fails after 5 chunks must not stall the others
        seen = 0
        async for _ in tee.branches[2]:
            seen += 1
            if seen == 5:
                break
        await tee.drop(2)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader, 0, 0)
        tg.start_soon(reader, 1, 0.001)
        tg.start_soon(quitter)
    assert bytes(got[0]) == data and bytes(got[1]) == data
    assert 1 <= peak <= 4
    assert tee.buffered == 0


async def test_write_streams_to_all_with_bounded_memory(tmp_path: Path) -> None:
    members = [fs(tmp_path, "a"), fs(tmp_path, "b")]
    mirror = Mirror(members, write_quorum=2)
    await mirror.start()
    try:
        await mirror.create_bucket("big")
        body = GeneratedBody(64 * MiB)
        tracemalloc.start()
        try:
            info = await mirror.put_object("big", "obj", body, ObjectMeta())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert info.etag == body.digest.hexdigest()
        assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while mirroring 64 MiB"
        for member in members:
            assert (await member.head_object("big", "obj")).etag == info.etag
        assert served_by.get() == "a,b"
    finally:
        await mirror.close()


async def test_failed_member_is_dropped_quorum_holds(
    trio_: tuple[Mirror, list[FsBackend]], caplog: pytest.LogCaptureFixture
) -> None:
    mirror, members = trio_
    broken = Path(members[1].root) / "b"
    immutable(broken)
    try:
        data = pattern(3 * MiB, seed=1)
        with caplog.at_level(logging.WARNING, logger="s3bridge.mirror"):
            info = await mirror.put_object("b", "k", ChunkedBody(data), ObjectMeta())
        assert info.etag == md5_hex(data)
        assert mirror.degraded == 1 and "m1" in caplog.text
        assert served_by.get() == "m0,m2"
        with pytest.raises(be.NoSuchKey):
            await members[1].head_object("b", "k")
        immutable(broken, False)
        await members[0].delete_object("b", "k")  # the first member lost it: reads go on to the next
        assert await get_bytes(mirror, "b", "k") == data
        assert served_by.get() == "m2"
    finally:
        immutable(broken, False)


async def test_short_of_quorum_and_common_answers(trio_: tuple[Mirror, list[FsBackend]]) -> None:
    mirror, members = trio_
    for member in members[:2]:
        await member.delete_bucket("b")
    with pytest.raises(be.BackendUnavailable) as caught:
        await mirror.put_object("b", "k", ChunkedBody(b"x"), ObjectMeta())
    assert "1 of 3" in str(caught.value)
    with pytest.raises(be.NoSuchBucket):
        await mirror.put_object("nobucket", "k", ChunkedBody(b"x"), ObjectMeta())
    with pytest.raises(be.NoSuchBucket):
        await mirror.delete_object("nobucket", "k")


async def test_failed_body_fails_every_member(trio_: tuple[Mirror, list[FsBackend]]) -> None:
    mirror, members = trio_
    with pytest.raises(BodyFailed):
        await mirror.put_object("b", "k", FailingBody(pattern(2 * MiB), fail_after=MiB + 3), ObjectMeta())
    for member in members:
        assert (await member.list_objects("b")).objects == []
    assert mirror.degraded == 0


async def test_multipart_reaches_every_member(trio_: tuple[Mirror, list[FsBackend]]) -> None:
    mirror, members = trio_
    upload = await mirror.create_multipart_upload("b", "mp", ObjectMeta(user={"x": "y"}))
    assert all(decode_upload_id(upload, 3))
    parts = [pattern(5 * MiB, seed=1), pattern(1000, seed=2)]
    done = []
    for n, data in enumerate(parts, 1):
        part = await mirror.upload_part("b", "mp", upload, n, ChunkedBody(data))
        done.append(CompletedPart(n, part.etag))
    info = await mirror.complete_multipart_upload("b", "mp", upload, done)
    for member in members:
        head = await member.head_object("b", "mp")
        assert (head.etag, head.meta.user) == (info.etag, {"x": "y"})
    await mirror.copy_object("b", "mp", "b", "copy", None)
    await members[0].delete_object("b", "copy")
    await members[0].delete_object("b", "mp")
    repair = await mirror.copy_object("b", "mp", "b", "again", None)  # m0 lacks the source: streamed from m1
    assert (await members[0].head_object("b", "again")).etag == repair.etag


async def test_reads_skip_a_dead_member(tmp_path: Path) -> None:
    remote = ScriptedBackend(fs(tmp_path, "remote"))
    local = fs(tmp_path, "local")
    mirror = Mirror([remote, local], write_quorum=1)
    await mirror.start()
    try:
        await mirror.create_bucket("reads")
        await mirror.put_object("reads", "k", ChunkedBody(b"both"), ObjectMeta())
        assert served_by.get() == "remote,local"
        remote.kill()
        assert await get_bytes(mirror, "reads", "k") == b"both"
        assert served_by.get() == "local"
        await mirror.put_object("reads", "k2", ChunkedBody(b"one"), ObjectMeta())
        assert mirror.degraded == 1
        assert [o.key for o in (await mirror.list_objects("reads")).objects] == ["k", "k2"]
    finally:
        await mirror.close()


async def test_write_short_of_quorum_when_members_die(tmp_path: Path) -> None:
    members = [ScriptedBackend(fs(tmp_path, f"m{i}")) for i in range(3)]
    mirror = Mirror(members, write_quorum=2)
    await mirror.start()
    try:
        await mirror.create_bucket("q")
        members[0].kill()
        await mirror.put_object("q", "k", ChunkedBody(b"two of three"), ObjectMeta())
        assert served_by.get() == "m1,m2" and mirror.degraded == 1
        members[2].fail("put_object", be.BackendUnavailable, read_body=True)
        with pytest.raises(be.BackendUnavailable) as caught:
            await mirror.put_object("q", "k2", ChunkedBody(b"one of three"), ObjectMeta())
        assert "1 of 3" in str(caught.value)
    finally:
        await mirror.close()
