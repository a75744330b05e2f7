"""The fallback's outage journal and its reconciler, over two real fs stores in temporary directories.

The only scaffolding is ``Outage``, a forwarding wrapper that makes the primary unavailable on cue (the
way a dead endpoint or an open breaker answers); everything else is the real journal in the real
secondary store, replayed by the real reconciler into the real primary.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from backends import errors as be
from backends.base import ALWAYS, CompletedPart, ObjectMeta
from backends.composite.fallback import Fallback, Settings, build
from backends.composite.forwarding import Forwarding
from backends.composite.journal import Journal, escape
from backends.composite.lease import Lease
from backends.composite.overlay import overlay
from backends.composite.reconcile import Reconciler
from backends.fs.backend import FsBackend
from backends.served import served_by
from tests.helpers.bodies import get_bytes, pattern, put_bytes

pytestmark = pytest.mark.anyio
T = TypeVar("T")


class Outage(Forwarding):
    """A store that answers BackendUnavailable to everything while ``down``."""

    down = False

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self.down:
            raise be.BackendUnavailable(detail="store down (test)", backend=self.inner.name)
        return await fn(*args)


@dataclass
class Stack:
    fb: Fallback
    primary: FsBackend
    secondary: FsBackend
    outage: Outage
    journal: Journal

    @property
    def reconciler(self) -> Reconciler:
        assert self.fb.reconciler is not None
        return self.fb.reconciler


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    primary = FsBackend(tmp_path / "primary", name="primary", fsync=False)
    secondary = FsBackend(tmp_path / "secondary", name="secondary", fsync=False)
    outage = Outage(primary)
    journal = Journal(secondary, prefix="fb/")
    fb = Fallback(outage, secondary, name="fb", journal=journal, reconcile_interval=0)
    await fb.start()
    await fb.create_bucket("b")
    yield Stack(fb, primary, secondary, outage, journal)
    await fb.close()


async def listed(backend: Any, bucket: str = "b", **kw: Any) -> list[str]:
    return [o.key for o in (await backend.list_objects(bucket, **kw)).objects]


async def test_delete_during_an_outage_is_acknowledged_and_tombstoned(stack: Stack) -> None:
    await put_bytes(stack.fb, "b", "old", b"before the outage")
    stack.outage.down = True
    await stack.fb.delete_object("b", "old")
    await stack.fb.delete_object("b", "never-existed")  # a missing key is success, as S3 says
    assert served_by.get() == "secondary"
    assert await stack.journal.pending("b", "old") == "delete"
    with pytest.raises(be.NoSuchKey):  # not the primary's 503: the journal knows it is gone
        await stack.fb.get_object("b", "old")
    stack.outage.down = False
    with pytest.raises(be.NoSuchKey):  # the primary is back and still has it: the tombstone wins
        await stack.fb.head_object("b", "old")
    assert await listed(stack.fb) == []
    assert await listed(stack.primary) == ["old"]

    assert await stack.reconciler.pass_once() == 2
    assert await listed(stack.primary) == []
    assert await stack.journal.pending("b", "old") is None
    assert (stack.reconciler.depth, stack.reconciler.replayed) == (0, 2)


async def test_without_a_journal_a_delete_in_an_outage_still_fails(tmp_path: Path) -> None:
    """Journal off: the fallback of before (a delete on one store only would come back)."""
    outage = Outage(FsBackend(tmp_path / "p", name="p", fsync=False))
    fb = Fallback(outage, FsBackend(tmp_path / "s", name="s", fsync=False))
    await fb.start()
    try:
        await fb.create_bucket("b")
        outage.down = True
        with pytest.raises(be.BackendUnavailable):
            await fb.delete_object("b", "k")
    finally:
        await fb.close()


async def test_outage_writes_read_and_list_as_acknowledged_until_replayed(stack: Stack) -> None:
    for key in ("keep", "over", "gone"):
        await put_bytes(stack.fb, "b", key, b"v1 " + key.encode())
    stack.outage.down = True
    await put_bytes(stack.fb, "b", "over", b"v2 over")
    await put_bytes(stack.fb, "b", "new", b"v2 new")
    await stack.fb.delete_object("b", "gone")
    assert stack.fb.fallbacks == 3
    stack.outage.down = False

    # The primary is back but holds the old state; the client sees what it was told.
    assert await get_bytes(stack.fb, "b", "over") == b"v2 over"
    assert served_by.get() == "secondary"
    assert await get_bytes(stack.fb, "b", "keep") == b"v1 keep"
    assert served_by.get() == "primary"
    page = await stack.fb.list_objects("b")
    assert [(o.key, o.size) for o in page.objects] == [("keep", 7), ("new", 6), ("over", 7)]
    assert await listed(stack.primary) == ["gone", "keep", "over"]

    # A write after the primary came back, of a key still journalled, goes through the journal too, so
    # the replay cannot put the outage's copy over it.
    await put_bytes(stack.fb, "b", "over", b"v3 over, after")
    assert served_by.get() == "secondary"

    assert await stack.reconciler.pass_once() == 4
    assert await listed(stack.primary) == ["keep", "new", "over"]
    assert await get_bytes(stack.primary, "b", "over") == b"v3 over, after"
    assert await get_bytes(stack.primary, "b", "new") == b"v2 new"
    assert await get_bytes(stack.fb, "b", "over") == b"v3 over, after"
    assert served_by.get() == "primary"
    assert (stack.reconciler.depth, stack.reconciler.oldest_age) == (0, 0.0)


async def test_replay_is_idempotent_and_waits_for_the_primary(stack: Stack) -> None:
    stack.outage.down = True
    await put_bytes(stack.fb, "b", "k", b"outage copy")
    assert await stack.reconciler.pass_once() == 0  # the primary is still down: nothing removed
    assert stack.reconciler.depth == 1 and stack.reconciler.oldest_age >= 0
    stack.outage.down = False
    entries = await stack.journal.entries()
    assert [(e.bucket, e.key, e.op) for e in entries] == [("b", "k", "put")]
    for _ in range(2):  # replaying the same entry twice changes nothing
        await stack.reconciler.replay("b", "k")
    assert await get_bytes(stack.primary, "b", "k") == b"outage copy"
    assert await stack.reconciler.pass_once() == 1
    assert await stack.journal.entries() == []


async def test_bucket_created_during_the_outage_is_created_on_the_primary(stack: Stack) -> None:
    stack.outage.down = True
    await stack.fb.create_bucket("late")
    await put_bytes(stack.fb, "late", "k", b"x")
    stack.outage.down = False
    assert await stack.reconciler.pass_once() == 1
    assert await get_bytes(stack.primary, "late", "k") == b"x"


async def test_copies_and_multipart_during_an_outage_are_journalled(stack: Stack) -> None:
    await put_bytes(stack.fb, "b", "src", b"v1 src")
    stack.outage.down = True
    await put_bytes(stack.fb, "b", "src", b"v2 src")
    await stack.fb.copy_object("b", "src", "b", "copy", None)
    upload = await stack.fb.create_multipart_upload("b", "mpu", ObjectMeta())
    stack.outage.down = False
    # The primary is back: a copy of a journalled source must read the secondary's current copy.
    await stack.fb.copy_object("b", "src", "b", "copy2", None)
    assert served_by.get() == "primary"
    assert await get_bytes(stack.primary, "b", "copy2") == b"v2 src"
    part = await stack.fb.upload_part("b", "mpu", upload, 1, _body(b"parts"))
    await stack.fb.complete_multipart_upload("b", "mpu", upload, [CompletedPart(1, part.etag)])
    assert await stack.journal.pending("b", "mpu") == "put"
    assert await stack.reconciler.pass_once() == 3  # src, copy, mpu
    for key, want in (("src", b"v2 src"), ("copy", b"v2 src"), ("mpu", b"parts")):
        assert await get_bytes(stack.primary, "b", key) == want, key


def _body(data: bytes) -> Any:
    from tests.helpers.bodies import ChunkedBody

    return ChunkedBody(data)


async def test_a_write_that_cannot_be_journalled_is_not_acknowledged(stack: Stack, tmp_path: Path) -> None:
    stack.outage.down = True
    long_key = "k" * 1000  # fits the store, but not the journal's index name
    with pytest.raises(be.BackendUnavailable):
        await put_bytes(stack.fb, "b", long_key, b"x")


async def test_journal_bucket_is_reserved(stack: Stack) -> None:
    assert [b.name for b in await stack.fb.list_buckets()] == ["b"]
    for call in (
        stack.fb.get_object("s3bridge-journal", "fb/log/x"),
        put_bytes(stack.fb, "s3bridge-journal", "fb/idx/b/k!/x", b""),
        stack.fb.list_objects("s3bridge-journal"),
        stack.fb.delete_bucket("s3bridge-journal"),
    ):
        with pytest.raises(be.AccessDenied):
            await call


async def test_index_names_never_confuse_keys(stack: Stack) -> None:
    keys = ["a", "a!", "a!/b", "a/", "a/b", "a!!", "!", "x y", "é/ü"]
    stack.outage.down = True
    for key in keys:
        await put_bytes(stack.fb, "b", key, key.encode())
    for key in keys:
        assert await stack.journal.pending("b", key) == "put", key
    assert await stack.journal.pending("b", "a!/") is None
    assert set(await stack.journal.pending_under("b", "a")) == {k for k in keys if k.startswith("a")}
    assert escape("a!/b") == "a!!/b"
    stack.outage.down = False
    assert await stack.reconciler.pass_once() == len(keys)
    for key in keys:
        assert await get_bytes(stack.primary, "b", key) == key.encode()


async def test_listing_overlay_keeps_paging_exact(stack: Stack) -> None:
    """Pages of 3 over primary keys and pending puts/deletes interleaved, with and without delimiter:
    the union of the pages is exactly the acknowledged state."""
    rng = random.Random(7)
    on_primary = [f"k{n:02d}" for n in range(0, 30, 2)] + ["d/x", "d/y"]
    for key in on_primary:
        await put_bytes(stack.fb, "b", key, b"1")
    stack.outage.down = True
    state = set(on_primary)
    for key in rng.sample([f"k{n:02d}" for n in range(30)], 20) + ["e/z", "d/x"]:
        if rng.random() < 0.4:
            await stack.fb.delete_object("b", key)
            state.discard(key)
        else:
            await put_bytes(stack.fb, "b", key, b"2")
            state.add(key)
    stack.outage.down = False
    for delimiter in ("", "/"):
        seen: list[str] = []
        after = ""
        while True:
            page = await stack.fb.list_objects("b", delimiter=delimiter, start_after=after, max_keys=3)
            names = [o.key for o in page.objects] + page.common_prefixes
            assert len(names) <= 3
            seen += names
            if not page.is_truncated:
                break
            assert page.next_marker
            after = page.next_marker
        want = (
            sorted(state)
            if not delimiter
            else sorted({k.split("/")[0] + "/" if "/" in k else k for k in state})
        )
        assert sorted(seen) == want and len(seen) == len(set(seen)), delimiter


async def test_overlay_hides_pending_deletes_and_shows_pending_puts(stack: Stack) -> None:
    await put_bytes(stack.secondary, "b", "p", b"new")
    page = await stack.primary.list_objects("b")
    merged = await overlay(page, {"p": "put", "q": "delete"}, stack.secondary, "b", "", "", "", 10)
    assert [o.key for o in merged.objects] == ["p"] and not merged.is_truncated


async def test_one_replica_at_a_time_holds_the_lease(stack: Stack) -> None:
    now = [1000.0]
    leases = [Lease(stack.journal, ttl=30, clock=lambda: now[0]) for _ in range(3)]
    assert await leases[0].acquire()
    assert not await leases[1].acquire() and not await leases[2].acquire()
    assert await leases[0].acquire()  # renewal keeps it while others knock
    await leases[0].release()
    assert await leases[1].acquire()
    assert not await leases[0].acquire()


async def test_a_dead_holders_lease_expires(stack: Stack) -> None:
    dead = Lease(stack.journal, ttl=0.2)
    assert await dead.acquire()
    heir = Lease(stack.journal, ttl=0.2)
    assert not await heir.acquire()
    await anyio.sleep(1.2)  # past the ttl by the store's clock (fs timestamps may be coarse)
    assert await heir.acquire()


async def test_racing_replicas_take_a_free_lease_once(stack: Stack) -> None:
    """Replicas racing for the free (then for an expired) lease: the store's conditional write picks one."""
    leases = [Lease(stack.journal, ttl=0.2) for _ in range(8)]
    won = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert sum(won) == 1
    await anyio.sleep(1.2)  # the holder died: its lease expires
    heirs = [lease for lease, w in zip(leases, won, strict=True) if not w]
    assert sum(await asyncio.gather(*(lease.acquire() for lease in heirs))) == 1
    assert len(await listed(stack.secondary, stack.journal.bucket, prefix="fb/")) == 1  # one lease object


async def test_a_stalled_holder_cannot_renew_over_its_successor(stack: Stack) -> None:
    stalled = Lease(stack.journal, ttl=1.0)
    assert await stalled.acquire()
    await anyio.sleep(2.0)  # the holder stalled past its ttl
    heir = Lease(stack.journal, ttl=1.0)
    assert await heir.acquire()  # took over the expired lease (If-Match its ETag)
    assert not await stalled.acquire()  # its If-Match names an ETag that is gone
    await stalled.release()  # not its lease any more: it leaves it alone
    other = Lease(stack.journal, ttl=1.0)
    assert not await other.acquire()
    assert await heir.acquire()  # renewal (If-Match its own ETag)
    await heir.release()
    assert await other.acquire()  # a released lease is free at once


class Unconditional(Forwarding):
    """A store that refuses conditional writes, as OBS does."""

    async def put_object(self, bucket: str, key: str, body: Any, meta: ObjectMeta, cond: Any = ALWAYS) -> Any:
        if cond:
            raise be.NotImplementedByBackend("no conditional writes (test)", backend=self.inner.name)
        return await self.inner.put_object(bucket, key, body, meta)


async def test_a_store_without_conditional_writes_keeps_the_claims_lease(tmp_path: Path) -> None:
    store = Unconditional(FsBackend(tmp_path / "s", name="s", fsync=False))
    await store.start()
    journal = Journal(store, prefix="fb/")
    now = [1000.0]
    leases = [Lease(journal, ttl=30, clock=lambda: now[0]) for _ in range(2)]
    assert await leases[0].acquire()
    assert not await leases[1].acquire()
    await leases[0].release()
    assert await leases[1].acquire()
    assert not await leases[0].acquire()
    await store.close()


async def test_a_replica_without_the_lease_replays_nothing(stack: Stack) -> None:
    stack.outage.down = True
    await put_bytes(stack.fb, "b", "k", b"x")
    stack.outage.down = False
    other = Lease(stack.journal, ttl=30)
    assert await other.acquire()
    assert await stack.reconciler.pass_once() == 0
    assert await listed(stack.primary) == []
    await other.release()
    assert await stack.reconciler.pass_once() == 1


async def test_background_reconciler_drains_after_the_outage(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"type": "fallback", "primary": "p", "secondary": "s", "journal": {"reconcile_interval": 0.05}}
    )
    primary = FsBackend(tmp_path / "p", name="p", fsync=False)
    outage = Outage(primary)
    secondary = FsBackend(tmp_path / "s", name="s", fsync=False)
    fb = build(settings, name="fb", lookup={"p": outage, "s": secondary}.__getitem__)
    assert isinstance(fb, Fallback) and fb.journal is not None and fb.journal.prefix == "fb/"
    await fb.start()
    try:
        await fb.create_bucket("b")
        outage.down = True
        data = pattern(300_000, seed=3)
        await put_bytes(fb, "b", "k", data)
        await anyio.sleep(0.2)
        assert fb.journal_depth == 1 and fb.journal_replayed == 0
        outage.down = False
        for _ in range(200):  # bounded: 10 s
            if not fb.journal_depth and fb.journal_replayed == 1:
                break
            await anyio.sleep(0.05)
        assert (fb.journal_depth, fb.journal_replayed) == (0, 1)
        assert await get_bytes(primary, "b", "k") == data
    finally:
        await fb.close()


def test_reconcile_command_drains_the_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``s3bridge reconcile`` over the configuration the gateways use: it replays what the secondary
    journalled during an outage, then reports an empty journal (exit status 0)."""
    import anyio
    import yaml

    from gateway.cli import main

    config = tmp_path / "gateway.yaml"
    fb = {"type": "fallback", "primary": "p", "secondary": "s", "journal": {"reconcile_interval": 0}}
    stores = {n: {"type": "fs", "root": str(tmp_path / n), "fsync": False} for n in ("p", "s")}
    doc = {"credentials": [{"access_key": "ak-reconcile", "secret_key": "sk-reconcile-0123456789"}]}
    config.write_text(yaml.safe_dump({**doc, "backends": {"fb": fb, **stores}}))

    async def outage_write() -> None:
        primary = Outage(FsBackend(tmp_path / "p", name="p", fsync=False))
        secondary = FsBackend(tmp_path / "s", name="s", fsync=False)
        fallback = Fallback(primary, secondary, name="fb", journal=Journal(secondary, prefix="fb/"))
        await fallback.start()
        try:
            await fallback.create_bucket("b")
            primary.down = True
            await put_bytes(fallback, "b", "k", b"journalled")
            await fallback.delete_object("b", "never")
        finally:
            await fallback.close()

    anyio.run(outage_write)
    assert main(["reconcile", "--config", str(config)]) == 0
    assert "fb: replayed 2 entries, 0 left" in capsys.readouterr().out

    async def check() -> None:
        primary = FsBackend(tmp_path / "p", name="p", fsync=False)
        await primary.start()
        try:
            assert await get_bytes(primary, "b", "k") == b"journalled"
        finally:
            await primary.close()

    anyio.run(check)
