"""Retry over a store whose failures follow a script (``tests.helpers.fake_backend``): the contract's
errors on cue, a real fs store behind them for every answer that is not a scripted failure."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta
from backends.composite.breaker import Breaker
from backends.composite.retry import Retry
from backends.fs.backend import FsBackend
from tests.helpers.bodies import ChunkedBody, get_bytes, md5_hex, pattern, put_bytes
from tests.helpers.fake_backend import ManualClock, ScriptedBackend

pytestmark = pytest.mark.anyio
BUCKET = "rt"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ScriptedBackend]:
    backend = ScriptedBackend(FsBackend(tmp_path / "store", name="store", fsync=False))
    await backend.start()
    await backend.create_bucket(BUCKET)
    backend.calls.clear()
    try:
        yield backend
    finally:
        await backend.close()


def fast(inner: ScriptedBackend | Breaker, attempts: int = 4, deadline: float = 10.0) -> Retry:
    return Retry(inner, attempts=attempts, base_delay=0.01, max_delay=0.05, deadline=deadline)


async def test_slowdown_then_success(store: ScriptedBackend) -> None:
    await put_bytes(store, BUCKET, "k", b"payload")
    retry = fast(store)
    store.fail("head_object", be.SlowDown, times=2)
    assert (await retry.head_object(BUCKET, "k")).etag == md5_hex(b"payload")
    assert store.failed("head_object") == 2 and store.served("head_object") == 1
    assert retry.retries == 2
    store.fail("get_object", be.BackendUnavailable, times=3)
    assert await get_bytes(retry, BUCKET, "k") == b"payload"
    assert [o.key for o in (await retry.list_objects(BUCKET)).objects] == ["k"]
    assert retry.retries == 5


@pytest.mark.parametrize("error", [be.SlowDown, be.BackendUnavailable, be.InternalBackendError])
async def test_gives_up_after_attempts(store: ScriptedBackend, error: type[be.BackendError]) -> None:
    retry = fast(store, attempts=3)
    store.fail("list_objects", error, times=10)
    with pytest.raises(error):
        await retry.list_objects(BUCKET)
    assert store.failed() == 3
    assert retry.retries == 2


async def test_answers_are_not_retried(store: ScriptedBackend) -> None:
    retry = fast(store)
    with pytest.raises(be.NoSuchKey):
        await retry.get_object(BUCKET, "missing")
    store.fail("head_object", be.AccessDenied)
    with pytest.raises(be.AccessDenied):
        await retry.head_object(BUCKET, "missing")
    assert store.calls == [("get_object", "NoSuchKey"), ("head_object", "AccessDenied")]
    assert retry.retries == 0


async def test_deadline_stops_retrying(store: ScriptedBackend) -> None:
    retry = Retry(store, attempts=20, base_delay=0.2, max_delay=0.2, deadline=0.3, rng=random.Random(1))
    store.fail("head_bucket", be.SlowDown, times=50)
    started = time.monotonic()
    with pytest.raises(be.SlowDown):
        await retry.head_bucket(BUCKET)
    assert time.monotonic() - started < 2.0
    assert 1 <= retry.retries <= 3


async def test_deadline_reads_the_injected_clock(store: ScriptedBackend) -> None:
    """No attempt starts after the deadline as the clock it was given tells it: a clock that already
    passed it stops the retry at once, whatever the attempts left."""
    clock = ManualClock()
    retry = Retry(store, attempts=20, base_delay=0.001, max_delay=0.001, deadline=5, clock=clock)
    store.fail("head_bucket", be.SlowDown, times=2)
    await retry.head_bucket(BUCKET)
    assert retry.retries == 2
    store.fail("head_bucket", be.SlowDown, times=1)

    class Jump(ManualClock):
        def __call__(self) -> float:
            self.now += 10  # each look at the clock is ten seconds later: past the 5 s deadline
            return self.now

    late = Retry(store, attempts=20, base_delay=0.001, max_delay=0.001, deadline=5, clock=Jump())
    with pytest.raises(be.SlowDown):
        await late.head_bucket(BUCKET)
    assert late.retries == 0


async def test_consumed_body_is_not_replayed(store: ScriptedBackend) -> None:
    retry = fast(store)
    store.fail("put_object", be.SlowDown, times=2, read_body=True)
    with pytest.raises(be.SlowDown):
        await retry.put_object(BUCKET, "body", ChunkedBody(pattern(300_000)), ObjectMeta())
    assert store.failed("put_object") == 1
    assert retry.retries == 0
    with pytest.raises(be.NoSuchKey):
        await store.head_object(BUCKET, "body")


async def test_unread_body_is_retried_in_place(store: ScriptedBackend) -> None:
    """A store that refused before reading a byte: the same body goes again, whole."""
    retry = fast(store)
    store.fail("put_object", be.SlowDown, times=2)
    data = pattern(300_000, seed=4)
    info = await retry.put_object(BUCKET, "body", ChunkedBody(data), ObjectMeta())
    assert info.etag == md5_hex(data) and retry.retries == 2
    assert await get_bytes(store, BUCKET, "body") == data


async def test_unconsumed_body_is_retried(store: ScriptedBackend) -> None:
    """A breaker that is open refuses without reading the body, so the retry can still send it."""
    # The reset must outlast the gap to the put on a loaded machine (else the put finds it half-open and
    # nothing is refused); the retries' delays (about 3 s in all) outlast the reset.
    breaker = Breaker(store, failure_threshold=1, reset_timeout=1.0)
    store.fail("head_bucket", be.BackendUnavailable)
    with pytest.raises(be.BackendUnavailable):
        await breaker.head_bucket(BUCKET)
    assert breaker.state == "open"
    retry = Retry(breaker, attempts=10, base_delay=0.05, max_delay=0.5, deadline=10)
    data = pattern(200_000, seed=3)
    info = await retry.put_object(BUCKET, "later", ChunkedBody(data), ObjectMeta())
    assert info.etag == md5_hex(data)
    assert retry.retries >= 1 and breaker.rejected >= 1
    assert await get_bytes(store, BUCKET, "later") == data


async def test_lost_answers_settle(store: ScriptedBackend) -> None:
    """The store did it but the answer was lost: the retry's NoSuchUpload / NoSuchBucket means success."""
    retry = fast(store)
    upload = await retry.create_multipart_upload(BUCKET, "mp", ObjectMeta())
    part = await retry.upload_part(BUCKET, "mp", upload, 1, ChunkedBody(b"only part"))
    store.fail("complete_multipart_upload", be.BackendUnavailable, after=True)
    info = await retry.complete_multipart_upload(BUCKET, "mp", upload, [CompletedPart(1, part.etag)])
    assert info.etag.endswith("-1")
    assert await get_bytes(store, BUCKET, "mp") == b"only part"
    await retry.delete_object(BUCKET, "mp")
    store.fail("delete_bucket", be.BackendUnavailable, after=True)
    await retry.delete_bucket(BUCKET)
    with pytest.raises(be.NoSuchBucket):
        await store.head_bucket(BUCKET)
    assert retry.retries == 2


async def test_lost_create_bucket_answer_settles(store: ScriptedBackend) -> None:
    retry = fast(store)
    store.fail("create_bucket", be.BackendUnavailable, after=True)
    await retry.create_bucket("made-once")
    assert (await store.head_bucket("made-once")).name == "made-once"
    assert retry.retries == 1


async def test_backoff_is_full_jitter_under_cap(tmp_path: Path) -> None:
    retry = Retry(FsBackend(tmp_path), base_delay=0.1, max_delay=1.0, rng=random.Random(42))
    reference = random.Random(42)
    for attempt in range(8):
        cap = min(1.0, 0.1 * 2**attempt)
        assert retry.backoff(attempt) == reference.uniform(0, cap)
    spread = [Retry(FsBackend(tmp_path), base_delay=0.1, max_delay=1.0).backoff(5) for _ in range(200)]
    assert all(0 <= d <= 1.0 for d in spread) and max(spread) - min(spread) > 0.5
