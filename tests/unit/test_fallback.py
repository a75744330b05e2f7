"""Fallback over real filesystem stores (roots made immutable), and over a primary whose failures follow
a script (``tests.helpers.fake_backend``) that vanishes mid-run while writers keep writing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta
from backends.composite.breaker import Breaker
from backends.composite.fallback import Fallback
from backends.composite.retry import Retry
from backends.fs.backend import FsBackend
from backends.served import served_by
from tests.helpers.bodies import ChunkedBody, get_bytes, md5_hex, pattern, put_bytes
from tests.helpers.fake_backend import ScriptedBackend
from tests.helpers.faults import immutable

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Fallback, FsBackend, FsBackend]]:
    primary = FsBackend(tmp_path / "primary", name="primary", fsync=False)
    secondary = FsBackend(tmp_path / "secondary", name="secondary", fsync=False)
    fallback = Fallback(primary, secondary, name="fb")
    await fallback.start()
    await fallback.create_bucket("b")
    yield fallback, primary, secondary
    await fallback.close()


async def test_unwritable_primary_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The primary's bucket directory turns immutable: the PUT that finds out has spent its body and
    fails retryable; the breaker opens, so the client's retry goes to the secondary, body intact."""
    primary = FsBackend(tmp_path / "primary", name="primary", fsync=False)
    secondary = FsBackend(tmp_path / "secondary", name="secondary", fsync=False)
    fallback = Fallback(Breaker(primary, failure_threshold=1, reset_timeout=60), secondary, name="fb")
    await fallback.start()
    await fallback.create_bucket("b")
    await put_bytes(fallback, "b", "before", b"old")
    assert served_by.get() == "primary"
    immutable(tmp_path / "primary" / "b")
    try:
        data = pattern(500_000, seed=2)
        with pytest.raises(be.BackendUnavailable):
            await fallback.put_object("b", "during", ChunkedBody(data), ObjectMeta())
        assert fallback.fallbacks == 0
        with caplog.at_level(logging.WARNING, logger="s3bridge.fallback"):
            info = await fallback.put_object("b", "during", ChunkedBody(data), ObjectMeta())
        assert info.etag == md5_hex(data)
        assert served_by.get() == "secondary"
        assert fallback.fallbacks == 1
        assert [r.name for r in caplog.records] == ["s3bridge.fallback"]
        assert "circuit breaker open" in caplog.records[0].getMessage()
        with pytest.raises(be.NoSuchKey):
            await primary.head_object("b", "during")
        assert await get_bytes(fallback, "b", "during") == data
        assert served_by.get() == "secondary"
        assert await get_bytes(primary, "b", "before") == b"old"
    finally:
        immutable(tmp_path / "primary" / "b", False)
        await fallback.close()


async def test_reads_and_deletes(pair: tuple[Fallback, FsBackend, FsBackend]) -> None:
    fallback, primary, secondary = pair
    await put_bytes(secondary, "b", "only-secondary", b"s")
    await put_bytes(primary, "b", "both", b"p")
    await put_bytes(secondary, "b", "both", b"s")
    assert await get_bytes(fallback, "b", "both") == b"p"
    assert (await fallback.head_object("b", "only-secondary")).size == 1
    with pytest.raises(be.NoSuchKey):
        await fallback.get_object("b", "nowhere")
    await fallback.delete_object("b", "both")
    await fallback.delete_object("b", "only-secondary")
    for store in (primary, secondary):
        assert (await store.list_objects("b")).objects == []
    with pytest.raises(be.NoSuchBucket):
        await fallback.delete_object("nobucket", "k")
    await put_bytes(secondary, "b", "left", b"x")
    with pytest.raises(be.BucketNotEmpty):
        await fallback.delete_bucket("b")
    assert fallback.fallbacks == 0


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[Fallback, ScriptedBackend, FsBackend]]:
    """A primary whose failures follow a script (a real fs store behind it), an fs secondary."""
    remote = ScriptedBackend(FsBackend(tmp_path / "remote", name="remote", fsync=False))
    secondary = FsBackend(tmp_path / "local", name="local", fsync=False)
    fallback = Fallback(remote, secondary)
    await fallback.start()
    yield fallback, remote, secondary
    await fallback.close()


async def test_store_killed_mid_run_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Writers keep writing while the primary dies; every write they were told succeeded reads back
    whole once it is back, whichever store took it."""
    remote = ScriptedBackend(FsBackend(tmp_path / "remote", name="remote", fsync=False))
    primary = Breaker(
        Retry(remote, attempts=2, base_delay=0.01, deadline=2), failure_threshold=2, reset_timeout=0.3
    )
    secondary = FsBackend(tmp_path / "local", name="local", fsync=False)
    fallback = Fallback(primary, secondary)
    await fallback.start()
    acknowledged: dict[str, bytes] = {}
    client_retries = 0
    try:
        await fallback.create_bucket("kill")

        async def writer(w: int) -> None:
            nonlocal client_retries
            for n in range(12):
                key, data = f"w{w}/{n}", pattern(40_000 + 7_919 * n, seed=w * 100 + n)
                for _ in range(8):  # the client's own retries, as an SDK does on 503
                    try:
                        await fallback.put_object("kill", key, ChunkedBody(data, 16_384), ObjectMeta())
                    except be.BackendError as exc:
                        assert exc.retryable, exc
                        client_retries += 1
                        await anyio.sleep(0.05)
                        continue
                    acknowledged[key] = data
                    break
                if len(acknowledged) == 10:
                    remote.kill()  # mid-body for the uploads in flight: their bytes are gone

        async with anyio.create_task_group() as tg:
            for w in range(4):
                tg.start_soon(writer, w)
        assert fallback.fallbacks > 0
        assert client_retries > 0
        assert len(acknowledged) == 48
        on_secondary = {
            o.key for o in (await secondary.list_objects("kill", prefix="", max_keys=1000)).objects
        }
        assert 0 < len(on_secondary) < 48 - 9
        remote.revive()
        await anyio.sleep(0.35)  # the breaker half-opens
        for key, data in sorted(acknowledged.items()):
            assert await get_bytes(fallback, "kill", key) == data, key
        on_primary = {o.key for o in (await remote.list_objects("kill", max_keys=1000)).objects}
        assert on_primary | on_secondary == set(acknowledged)
    finally:
        await fallback.close()


async def test_partly_sent_put_fails_retryable(scripted: tuple[Fallback, ScriptedBackend, FsBackend]) -> None:
    fallback, remote, secondary = scripted
    await fallback.create_bucket("partial")
    remote.fail("put_object", be.BackendUnavailable, read_body=True)
    with pytest.raises(be.BackendUnavailable):
        await fallback.put_object("partial", "k", ChunkedBody(pattern(200_000)), ObjectMeta())
    assert (await secondary.list_objects("partial")).objects == []
    assert fallback.fallbacks == 0


async def test_unread_put_falls_back(scripted: tuple[Fallback, ScriptedBackend, FsBackend]) -> None:
    """A primary that refused before reading a byte: the body goes to the secondary, whole."""
    fallback, remote, secondary = scripted
    await fallback.create_bucket("unread")
    remote.fail("put_object", be.BackendUnavailable)
    data = pattern(200_000, seed=9)
    info = await fallback.put_object("unread", "k", ChunkedBody(data), ObjectMeta())
    assert info.etag == md5_hex(data) and served_by.get() == "local"
    assert fallback.fallbacks == 1
    assert await get_bytes(secondary, "unread", "k") == data


async def test_multipart_stays_on_its_store(scripted: tuple[Fallback, ScriptedBackend, FsBackend]) -> None:
    fallback, remote, secondary = scripted
    await fallback.create_bucket("mpart")
    remote.fail("create_multipart_upload", be.BackendUnavailable)
    upload = await fallback.create_multipart_upload("mpart", "obj", ObjectMeta())
    assert upload.startswith("s~") and served_by.get() == "local"
    part = await fallback.upload_part("mpart", "obj", upload, 1, ChunkedBody(b"part one"))
    assert [p.part_number for p in (await fallback.list_parts("mpart", "obj", upload)).parts] == [1]
    await fallback.complete_multipart_upload("mpart", "obj", upload, [CompletedPart(1, part.etag)])
    assert await get_bytes(secondary, "mpart", "obj") == b"part one"
    assert remote.served("upload_part") == remote.served("complete_multipart_upload") == 0
    with pytest.raises(be.NoSuchUpload):
        await fallback.abort_multipart_upload("mpart", "obj", "not-ours")
    remote.fail("delete_object", be.BackendUnavailable)
    with pytest.raises(be.BackendUnavailable):  # deleting on one store only would resurrect it
        await fallback.delete_object("mpart", "obj")


async def test_bucket_settings_pass_by_a_member_without_the_bucket(
    pair: tuple[Fallback, FsBackend, FsBackend],
) -> None:
    """A setting lands on the member holding the bucket (as CreateBucket lands during an outage); the
    member without it is passed by; on neither it is NoSuchBucket."""
    fallback, primary, secondary = pair
    await secondary.create_bucket("only-secondary")
    await fallback.put_bucket_setting("only-secondary", "policy", b"{}")
    assert await secondary.get_bucket_setting("only-secondary", "policy") == b"{}"
    assert await fallback.get_bucket_setting("only-secondary", "policy") == b"{}"
    await fallback.put_bucket_setting("b", "cors", b"<CORSConfiguration/>")
    assert await primary.get_bucket_setting("b", "cors") == b"<CORSConfiguration/>"
    assert await secondary.get_bucket_setting("b", "cors") == b"<CORSConfiguration/>"
    with pytest.raises(be.NoSuchBucket):
        await fallback.put_bucket_setting("nowhere", "policy", b"{}")
