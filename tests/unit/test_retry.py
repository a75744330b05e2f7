"""Retry over the S3 backend, behind a scripted flaky proxy (a real process) in front of moto's S3 server."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta
from backends.composite.breaker import Breaker
from backends.composite.retry import Retry
from backends.fs.backend import FsBackend
from backends.s3.backend import S3Backend
from backends.s3.settings import Settings as S3Settings
from tests.contract.bodies import ChunkedBody, get_bytes, md5_hex, pattern, put_bytes
from tests.faults import arm, counts, flaky_proxy
from tests.procs import ServerProcess, moto_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxy(moto: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = flaky_proxy(moto.url, log_path=tmp_path_factory.mktemp("proxy") / "proxy.log").start()
    try:
        yield server
    finally:
        server.stop()


def s3(url: str, name: str = "s3") -> S3Backend:
    settings = S3Settings.model_validate(
        {
            "type": "s3",
            "endpoint": url,
            "access_key": "moto-access",
            "secret_key": "moto-secret",
            "read_timeout": 10,
        }
    )
    return S3Backend(settings, name=name)


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
    name = f"rt-{random.getrandbits(32):08x}"
    await store.create_bucket(name)
    return name


def fast(inner: S3Backend, attempts: int = 4, deadline: float = 10.0) -> Retry:
    return Retry(inner, attempts=attempts, base_delay=0.01, max_delay=0.05, deadline=deadline)


async def test_slowdown_then_success(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    await put_bytes(store, bucket, "k", b"payload")
    retry = fast(store)
    before = counts(proxy)
    arm(proxy, 2, code="SlowDown", status=503)
    assert (await retry.head_object(bucket, "k")).etag == md5_hex(b"payload")
    after = counts(proxy)
    assert after["failed"] - before["failed"] == 2
    assert retry.retries == 2
    arm(proxy, 3, code="InternalError", status=500, method="GET")
    assert await get_bytes(retry, bucket, "k") == b"payload"
    assert [o.key for o in (await retry.list_objects(bucket)).objects] == ["k"]
    assert retry.retries == 5


async def test_gives_up_after_attempts(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    retry = fast(store, attempts=3)
    before = counts(proxy)
    arm(proxy, 10)
    with pytest.raises(be.SlowDown):
        await retry.list_objects(bucket)
    assert counts(proxy)["failed"] - before["failed"] == 3


async def test_answers_are_not_retried(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    retry = fast(store)
    before = counts(proxy)
    with pytest.raises(be.NoSuchKey):
        await retry.get_object(bucket, "missing")
    arm(proxy, 1, code="AccessDenied", status=403)
    with pytest.raises(be.AccessDenied):
        await retry.head_object(bucket, "missing")
    after = counts(proxy)
    assert (after["failed"] - before["failed"], after["proxied"] - before["proxied"]) == (1, 1)
    assert retry.retries == 0


async def test_deadline_stops_retrying(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    retry = Retry(store, attempts=20, base_delay=0.2, max_delay=0.2, deadline=0.3, rng=random.Random(1))
    arm(proxy, 50)
    started = time.monotonic()
    with pytest.raises(be.SlowDown):
        await retry.head_bucket(bucket)
    assert time.monotonic() - started < 2.0
    assert 1 <= retry.retries <= 3


async def test_consumed_body_is_not_replayed(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    retry = fast(store)
    before = counts(proxy)
    arm(proxy, 2, method="PUT")
    with pytest.raises(be.SlowDown):
        await retry.put_object(bucket, "body", ChunkedBody(pattern(300_000)), ObjectMeta())
    assert counts(proxy)["failed"] - before["failed"] == 1
    assert retry.retries == 0
    with pytest.raises(be.NoSuchKey):
        await store.head_object(bucket, "body")


async def test_unconsumed_body_is_retried(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    """A breaker that is open refuses without reading the body, so the retry can still send it."""
    breaker = Breaker(store, failure_threshold=1, reset_timeout=0.05)
    arm(proxy, 1, code="InternalError", status=500)
    with pytest.raises(be.BackendUnavailable):
        await breaker.head_bucket(bucket)
    assert breaker.state == "open"
    retry = Retry(breaker, attempts=6, base_delay=0.05, max_delay=0.1, deadline=5)
    data = pattern(200_000, seed=3)
    info = await retry.put_object(bucket, "later", ChunkedBody(data), ObjectMeta())
    assert info.etag == md5_hex(data)
    assert retry.retries >= 1 and breaker.rejected >= 1
    assert await get_bytes(store, bucket, "later") == data


async def test_lost_answers_settle(proxy: ServerProcess, store: S3Backend, bucket: str) -> None:
    """The store did it but the answer was lost: the retry's NoSuchUpload / NoSuchBucket means success."""
    retry = fast(store)
    upload = await retry.create_multipart_upload(bucket, "mp", ObjectMeta())
    part = await retry.upload_part(bucket, "mp", upload, 1, ChunkedBody(b"only part"))
    arm(proxy, 1, code="InternalError", status=500, method="POST", after=True)
    info = await retry.complete_multipart_upload(bucket, "mp", upload, [CompletedPart(1, part.etag)])
    assert info.etag.endswith("-1")
    assert await get_bytes(store, bucket, "mp") == b"only part"
    await retry.delete_object(bucket, "mp")
    arm(proxy, 1, code="InternalError", status=500, method="DELETE", after=True)
    await retry.delete_bucket(bucket)
    with pytest.raises(be.NoSuchBucket):
        await store.head_bucket(bucket)
    assert retry.retries == 2


async def test_backoff_is_full_jitter_under_cap(tmp_path: Path) -> None:
    retry = Retry(FsBackend(tmp_path), base_delay=0.1, max_delay=1.0, rng=random.Random(42))
    reference = random.Random(42)
    for attempt in range(8):
        cap = min(1.0, 0.1 * 2**attempt)
        assert retry.backoff(attempt) == reference.uniform(0, cap)
    spread = [Retry(FsBackend(tmp_path), base_delay=0.1, max_delay=1.0).backoff(5) for _ in range(200)]
    assert all(0 <= d <= 1.0 for d in spread) and max(spread) - min(spread) > 0.5
