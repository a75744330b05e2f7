"""The circuit breaker over a store whose failures follow a script, on a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from backends import errors as be
from backends.base import ObjectMeta
from backends.composite.breaker import Breaker
from backends.fs.backend import FsBackend
from tests.helpers.bodies import ChunkedBody, put_bytes
from tests.helpers.fake_backend import ManualClock, ScriptedBackend

pytestmark = pytest.mark.anyio
BUCKET = "br"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ScriptedBackend]:
    backend = ScriptedBackend(FsBackend(tmp_path / "store", name="store", fsync=False))
    await backend.start()
    await backend.create_bucket(BUCKET)
    await put_bytes(backend, BUCKET, "k", b"v")
    backend.calls.clear()
    try:
        yield backend
    finally:
        await backend.close()


async def fail(breaker: Breaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(be.BackendUnavailable):
            await breaker.head_bucket(BUCKET)


async def half_open(store: ScriptedBackend) -> Breaker:
    """A breaker opened by one failure, its reset timeout since passed: the next call is the probe."""
    clock = ManualClock()
    breaker = Breaker(store, failure_threshold=1, reset_timeout=1, clock=clock)
    store.fail("head_bucket", be.BackendUnavailable)
    await fail(breaker, 1)
    clock.now += 2
    assert breaker.state == "half-open"
    return breaker


async def test_opens_after_threshold_and_fails_fast(store: ScriptedBackend) -> None:
    clock = ManualClock()
    breaker = Breaker(store, failure_threshold=3, reset_timeout=30, clock=clock)
    store.fail("head_bucket", be.BackendUnavailable, times=3)
    await fail(breaker, 2)
    assert breaker.state == "closed"
    await fail(breaker, 1)
    assert breaker.state == "open"
    reached = list(store.calls)
    with pytest.raises(be.BackendUnavailable) as caught:
        await breaker.head_object(BUCKET, "k")
    assert "circuit breaker open" in str(caught.value)
    assert store.calls == reached  # refused without touching the store
    assert breaker.rejected == 1
    clock.now += 29.9
    with pytest.raises(be.BackendUnavailable):
        await breaker.put_object(BUCKET, "k2", ChunkedBody(b"x"), ObjectMeta())
    assert store.calls == reached and breaker.rejected == 2


@pytest.mark.parametrize("error", [be.BackendUnavailable, be.InternalBackendError, be.AccessDenied])
async def test_what_counts_as_a_failure(store: ScriptedBackend, error: type[be.BackendError]) -> None:
    """A store that cannot serve us: unavailable, failing unclassified, or refusing our credentials."""
    breaker = Breaker(store, failure_threshold=2, reset_timeout=30, clock=ManualClock())
    store.fail("head_object", error, times=2)
    for _ in range(2):
        with pytest.raises(error):
            await breaker.head_object(BUCKET, "k")
    assert breaker.state == "open"


async def test_half_open_probe_closes_or_reopens(store: ScriptedBackend) -> None:
    clock = ManualClock()
    breaker = Breaker(store, failure_threshold=1, reset_timeout=10, clock=clock)
    store.fail("head_bucket", be.BackendUnavailable, times=2)
    await fail(breaker, 1)
    clock.now += 9.9
    assert breaker.state == "open"
    clock.now += 0.2
    assert breaker.state == "half-open"
    await fail(breaker, 1)  # the probe fails: open for another period
    assert breaker.state == "open"
    clock.now += 10
    assert (await breaker.head_object(BUCKET, "k")).size == 1
    assert breaker.state == "closed"


async def test_one_probe_at_a_time(store: ScriptedBackend) -> None:
    breaker = await half_open(store)
    outcomes: list[str] = []

    async def call() -> None:
        try:
            await breaker.head_object(BUCKET, "k")
            outcomes.append("ok")
        except be.BackendUnavailable:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(call)
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    assert breaker.state == "closed"
    assert store.served("head_object") == 1


async def test_answers_reset_and_slowdown_is_neutral(store: ScriptedBackend) -> None:
    breaker = Breaker(store, failure_threshold=2, reset_timeout=30, clock=ManualClock())
    store.fail("head_bucket", be.BackendUnavailable)
    await fail(breaker, 1)
    with pytest.raises(be.NoSuchKey):  # an answer: the store is up
        await breaker.get_object(BUCKET, "missing")
    store.fail("head_bucket", be.BackendUnavailable)
    await fail(breaker, 1)
    assert breaker.state == "closed"
    store.fail("head_bucket", be.SlowDown, times=5)
    for _ in range(5):
        with pytest.raises(be.SlowDown):
            await breaker.head_bucket(BUCKET)
    assert breaker.state == "closed"


async def test_slowdown_probe_frees_the_probe_slot(store: ScriptedBackend) -> None:
    """A throttled probe proves nothing either way: the circuit stays half-open and the next call probes."""
    breaker = await half_open(store)
    store.fail("head_bucket", be.SlowDown)
    with pytest.raises(be.SlowDown):
        await breaker.head_bucket(BUCKET)
    assert breaker.state == "half-open"
    await breaker.head_bucket(BUCKET)
    assert breaker.state == "closed"


async def test_killed_store_opens_the_circuit(store: ScriptedBackend) -> None:
    breaker = Breaker(store, failure_threshold=2, reset_timeout=60, clock=ManualClock())
    await breaker.create_bucket("alive")
    store.kill()
    await fail(breaker, 2)
    assert breaker.state == "open"
    await fail(breaker, 1)
    assert breaker.rejected == 1
