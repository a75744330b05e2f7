"""Short file calls on the event loop while they stay fast (``backends.fs.inline``), on the pool after
one that was slow; what a GET or HEAD answers is the same either way."""

from __future__ import annotations

import itertools
import os
import resource
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import errors as be
from backends.base import ByteRange, ObjectMeta
from backends.fs.backend import FsBackend
from backends.fs.inline import InlineGate
from tests.helpers.bodies import ChunkedBody, pattern, read_all

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves (the gate's own wall clock would make these tests depend on the machine)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_call_closes_the_gate_for_a_pause() -> None:
    clock, waits = Clock(), [0]
    gate = InlineGate(slow=0.002, pause=5.0, clock=clock, usage=lambda: (0, waits[0]))
    assert gate.open() and gate.call(lambda a: a + 1, 1) == 2

    def slow() -> str:
        clock.now += 0.003
        waits[0] += 1  # it slept on something
        return "done"

    assert gate.call(slow) == "done"  # a slow call still answers, and closes the gate
    assert not gate.open() and gate.slow_calls == 1
    clock.now += 4.9
    assert not gate.open()
    clock.now += 0.2
    assert gate.open()


def test_a_slow_call_that_fails_closes_the_gate_too() -> None:
    clock, waits = Clock(), [0]
    gate = InlineGate(slow=0.002, pause=5.0, clock=clock, usage=lambda: (0, waits[0]))

    def slow_failure() -> None:
        clock.now += 0.01
        waits[0] += 1
        raise OSError(5, "I/O error")

    with pytest.raises(OSError):
        gate.call(slow_failure)
    assert not gate.open() and gate.slow_calls == 1
    with pytest.raises(KeyError):  # a fast failure leaves it open
        InlineGate(clock=Clock(), usage=lambda: (0, 0)).call({}.__getitem__, "x")


def test_a_call_only_descheduled_or_collecting_leaves_the_gate_open() -> None:
    """Long in wall time without sleeping on anything (the scheduler took the CPU away, or a garbage
    collection ran): nothing to do with the files."""
    clock = Clock()
    gate = InlineGate(slow=0.002, clock=clock, usage=lambda: (0, 0))

    def descheduled() -> None:
        clock.now += 0.09

    gate.call(descheduled)
    assert gate.open() and gate.slow_calls == 0


def test_a_call_that_read_from_the_disk_closes_the_gate() -> None:
    """However fast it was: the next one may not be."""
    reads = [0]
    gate = InlineGate(clock=Clock(), usage=lambda: (reads[0], 0))
    gate.call(reads.__setitem__, 0, 8)
    assert not gate.open() and gate.slow_calls == 1


@pytest.fixture
async def fs(tmp_path: Path) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", name="fs-inline", fsync=True)
    await backend.start()
    await backend.create_bucket("b")
    yield backend
    await backend.close()


async def test_quick_calls_run_on_the_loop_until_one_is_slow(fs: FsBackend) -> None:
    loop_thread = threading.get_ident()
    clock, waits = Clock(), [0]
    fs.io.inline = InlineGate(slow=0.002, pause=5.0, clock=clock, usage=lambda: (0, waits[0]))
    assert await fs.io.quick(threading.get_ident) == loop_thread

    def slow() -> int:
        clock.now += 0.01
        waits[0] += 1
        return threading.get_ident()

    assert await fs.io.quick(slow) == loop_thread
    assert await fs.io.quick(threading.get_ident) != loop_thread  # paused: the pool's thread
    clock.now += 6
    assert await fs.io.quick(threading.get_ident) == loop_thread


async def _answers(fs: FsBackend) -> list[object]:
    got: list[object] = []
    for key, byte_range in (("small", None), ("small", ByteRange(3, 9)), ("large", None), ("empty", None)):
        result = await fs.get_object("b", key, byte_range)
        got.append((result.info, result.span, await read_all(result)))
    got.append(await fs.head_object("b", "small"))
    for failing in (
        fs.get_object("b", "absent"),
        fs.head_object("b", "absent"),
        fs.get_object("b", "small", ByteRange(1000, 2000)),
        fs.get_object("absent-bucket", "small"),
    ):
        with pytest.raises(be.BackendError) as info:
            await failing
        got.append(type(info.value))
    return got


async def test_reads_answer_the_same_on_the_loop_and_on_the_pool(fs: FsBackend) -> None:
    await fs.put_object("b", "small", ChunkedBody(pattern(100, seed=3)), ObjectMeta())
    await fs.put_object("b", "large", ChunkedBody(pattern(300_000, seed=4), 65536), ObjectMeta())
    await fs.put_object("b", "empty", ChunkedBody(b""), ObjectMeta())
    on_loop = await _answers(fs)
    sleeps = itertools.count()  # every call slept, and past a "slow" of -1 s: all but the first on the pool
    fs.io.inline = InlineGate(slow=-1.0, pause=1e9, usage=lambda: (0, next(sleeps)))
    await fs.io.quick(int)
    assert not fs.io.inline.open()
    on_pool = await _answers(fs)
    assert on_loop == on_pool
    assert on_loop[-4:] == [be.NoSuchKey, be.NoSuchKey, be.InvalidRange, be.NoSuchBucket]


async def test_an_object_read_from_the_disk_sends_the_next_reads_to_the_pool(
    fs: FsBackend, tmp_path: Path
) -> None:
    """The real signal, on this machine's kernel: an object file dropped from the page cache
    (``POSIX_FADV_DONTNEED``, written and synced first so its pages are clean) is read from the disk."""
    data = pattern(50_000, seed=5)
    await fs.put_object("b", "cold", ChunkedBody(data), ObjectMeta())
    assert (await read_all(await fs.get_object("b", "cold"))) == data
    assert fs.io.inline.open()
    for path in (tmp_path / "root").rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_inblock
    assert (await read_all(await fs.get_object("b", "cold"))) == data
    if resource.getrusage(resource.RUSAGE_THREAD).ru_inblock == before:
        pytest.skip("this filesystem or kernel counts no block reads (tmpfs, or no per-task I/O accounting)")
    assert not fs.io.inline.open() and fs.io.inline.slow_calls == 1
