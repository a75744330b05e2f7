"""One mechanism for blocking calls: the bridge's BlockingPool, used by the fs backend as by the SDK
backends, sized by ``server.io_threads`` when the backend tree is assembled."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from backends.bridge import BlockingPool
from backends.fs.backend import FsBackend
from backends.s3.backend import S3Backend
from gateway.assemble import build_backends
from gateway.config import validate

pytestmark = pytest.mark.anyio


def _config(root: Path, **server: object) -> dict[str, object]:
    return {
        "server": server,
        "backends": {
            "local": {"type": "fs", "root": str(root)},
            "store": {"type": "s3", "endpoint": "http://127.0.0.1:9"},
            "pinned": {"type": "s3", "endpoint": "http://127.0.0.1:9", "max_workers": 5},
        },
    }


def test_io_threads_sizes_the_pools_of_the_assembled_tree(tmp_path: Path) -> None:
    built = build_backends(validate(_config(tmp_path, io_threads=3)))
    local, store, pinned = built["local"], built["store"], built["pinned"]
    assert isinstance(local, FsBackend) and local.io.threads == 3
    assert isinstance(store, S3Backend) and store.settings.max_workers == 3
    assert isinstance(pinned, S3Backend) and pinned.settings.max_workers == 5  # its own setting wins


def test_the_default_is_the_configurations(tmp_path: Path) -> None:
    config = validate(_config(tmp_path))
    built = build_backends(config)
    assert built["local"].io.threads == config.server.io_threads  # type: ignore[attr-defined]


async def test_fs_calls_run_on_its_bounded_pool(tmp_path: Path) -> None:
    fs = FsBackend(tmp_path / "root", name="small", fsync=False, io_threads=2)
    await fs.start()
    names: set[str] = set()
    running = peak = 0
    lock = threading.Lock()

    def blocking() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            names.add(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            running -= 1

    await asyncio.gather(*(fs.io.run(blocking) for _ in range(6)))
    assert peak == 2 and all(n.startswith("fs-small") for n in names)
    await fs.close()


async def test_a_cancelled_whole_call_waits_for_the_thread() -> None:
    """The fs backend closes a descriptor when its read is cancelled: the read must be over by then."""
    pool = BlockingPool(1, name="t")
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def read() -> None:
        started.set()
        release.wait(5)
        finished.append(True)

    task = asyncio.ensure_future(pool.run_whole(read))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # still waiting for the thread
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]
    pool.shutdown()


async def test_outcomes_reach_the_caller_as_they_are() -> None:
    """A result, an exception of its own type (with its traceback), keyword arguments: the hop to the
    loop changes none of them, whichever of ``run`` and ``run_whole`` carries the call."""
    pool = BlockingPool(2, name="t")

    def fail(code: int) -> None:
        raise OSError(code, "no such thing")

    assert await pool.run(lambda a, b=0: a + b, 1, b=2) == 3
    assert await pool.run_whole(divmod, 7, 2) == (3, 1)
    for runner in (pool.run, pool.run_whole):
        with pytest.raises(OSError) as info:
            await runner(fail, 2)
        assert info.value.errno == 2 and info.traceback[-1].name == "fail"
    pool.shutdown()


async def test_a_cancelled_plain_call_does_not_wait() -> None:
    """``run`` (unlike ``run_whole``) lets its caller go at once; the call finishes on its own."""
    pool = BlockingPool(1, name="t")
    started, release = threading.Event(), threading.Event()
    task = asyncio.ensure_future(pool.run(lambda: (started.set(), release.wait(5))))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    release.set()
    assert await pool.run(lambda: "next") == "next"  # the pool goes on
    pool.shutdown()


async def test_calls_queued_at_shutdown_end_their_callers() -> None:
    """A call still queued when the pool shuts down never runs, and its caller is not left waiting."""
    pool = BlockingPool(1, name="t")
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []
    busy = asyncio.ensure_future(pool.run_whole(lambda: (started.set(), release.wait(5))))
    assert await asyncio.to_thread(started.wait, 5)
    queued = asyncio.ensure_future(pool.run(ran.append, "queued"))
    await asyncio.sleep(0.01)
    pool.shutdown()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(queued, 1)
    release.set()
    await asyncio.wait_for(busy, 5)
    assert ran == []
