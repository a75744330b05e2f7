"""The circuit breaker over the S3 backend behind the flaky proxy (a real process) in front of moto."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from backends import errors as be
from backends.composite.breaker import Breaker
from backends.s3.backend import S3Backend
from tests.contract.bodies import put_bytes
from tests.faults import arm, counts, flaky_proxy
from tests.procs import ServerProcess, moto_server
from tests.unit.test_retry import s3

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves by hand, so reset timeouts need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("breaker")
    with (
        moto_server(log_path=logs / "moto.log") as moto,
        flaky_proxy(moto.url, log_path=logs / "proxy.log") as p,
    ):
        yield p


@pytest.fixture
async def store(proxy: ServerProcess) -> AsyncIterator[S3Backend]:
    arm(proxy, 0)
    backend = s3(proxy.url)
    await backend.start()
    try:
        yield backend
    finally:
        arm(proxy, 0)
        await backend.close()


@pytest.fixture
async def bucket(store: S3Backend) -> str:
    name = f"br-{random.getrandbits(32):08x}"
    await store.create_bucket(name)
    await put_bytes(store, name, "k", b"v")
    return name


async def fail(breaker: Breaker, bucket: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(be.BackendUnavailable):
            await breaker.head_bucket(bucket)


async def test_opens_after_threshold_and_fails_fast(
    proxy: ServerProcess, store: S3Backend, bucket: str
) -> None:
    clock = Clock()
    breaker = Breaker(store, failure_threshold=3, reset_timeout=30, clock=clock)
    arm(proxy, 3, code="InternalError", status=500)
    await fail(breaker, bucket, 2)
    assert breaker.state == "closed"
    await fail(breaker, bucket, 1)
    assert breaker.state == "open"
    reached = counts(proxy)
    with pytest.raises(be.BackendUnavailable) as caught:
        await breaker.head_object(bucket, "k")
    assert "circuit breaker open" in str(caught.value)
    assert counts(proxy) == reached  # refused without touching the store
    assert breaker.rejected == 1


async def test_half_open_probe_closes_or_reopens(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    clock = Clock()
    breaker = Breaker(store, failure_threshold=1, reset_timeout=10, clock=clock)
    arm(proxy, 2, code="InternalError", status=500)
    await fail(breaker, bucket, 1)
    clock.now += 9.9
    assert breaker.state == "open"
    clock.now += 0.2
    assert breaker.state == "half-open"
    await fail(breaker, bucket, 1)  # the probe fails: open for another period
    assert breaker.state == "open"
    clock.now += 10
    assert (await breaker.head_object(bucket, "k")).size == 1
    assert breaker.state == "closed"


async def test_one_probe_at_a_time(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    clock = Clock()
    breaker = Breaker(store, failure_threshold=1, reset_timeout=1, clock=clock)
    arm(proxy, 1, code="InternalError", status=500)
    await fail(breaker, bucket, 1)
    clock.now += 2
    outcomes: list[str] = []

    async def call() -> None:
        try:
            await breaker.head_object(bucket, "k")
            outcomes.append("ok")
        except be.BackendUnavailable:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(call)
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    assert breaker.state == "closed"


async def test_answers_reset_and_slowdown_is_neutral(
    proxy: ServerProcess, store: S3Backend, bucket: str
) -> None:
    breaker = Breaker(store, failure_threshold=2, reset_timeout=30, clock=Clock())
    arm(proxy, 1, code="InternalError", status=500)
    await fail(breaker, bucket, 1)
    with pytest.raises(be.NoSuchKey):  # an answer: the store is up
        await breaker.get_object(bucket, "missing")
    arm(proxy, 1, code="InternalError", status=500)
    await fail(breaker, bucket, 1)
    assert breaker.state == "closed"
    arm(proxy, 5, code="SlowDown", status=503)
    for _ in range(5):
        with pytest.raises(be.SlowDown):
            await breaker.head_bucket(bucket)
    assert breaker.state == "closed"


async def test_killed_store_opens_the_circuit(tmp_path_factory: pytest.TempPathFactory) -> None:
    with moto_server(log_path=tmp_path_factory.mktemp("killed") / "moto.log") as moto:
        store = s3(moto.url)
        await store.start()
        try:
            breaker = Breaker(store, failure_threshold=2, reset_timeout=60)
            await breaker.create_bucket("alive")
            moto.kill()
            await fail(breaker, "alive", 2)
            assert breaker.state == "open"
            await fail(breaker, "alive", 1)
            assert breaker.rejected == 1
        finally:
            await store.close()
