"""Hash lanes: each lane sees every batch once, in order, never two at a time; lanes run side by side."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from gateway.hashlanes import HashLanes

pytestmark = pytest.mark.anyio


async def test_each_lane_hashes_in_order_one_batch_at_a_time() -> None:
    seen: dict[str, list[bytes]] = {"a": [], "b": []}
    busy = {"a": 0, "b": 0}
    overlap = {"within": False, "across": False}
    lock = threading.Lock()

    def lane(name: str):  # type: ignore[no-untyped-def]
        def update(batch: bytes) -> None:
            with lock:
                busy[name] += 1
                overlap["within"] |= busy[name] > 1
            time.sleep(0.01)  # long enough for the other lane to be running too
            with lock:
                overlap["across"] |= busy["a"] and busy["b"]
                seen[name].append(batch)
                busy[name] -= 1

        return update

    lanes = HashLanes([lane("a"), lane("b")])
    batches = [bytes([n]) * 10 for n in range(8)]
    for batch in batches:
        await lanes.submit(batch)
    await lanes.drain()
    assert seen == {"a": batches, "b": batches}
    assert not overlap["within"] and overlap["across"]


async def test_real_hashes_match_hashing_in_one_go() -> None:
    md5, sha = hashlib.md5(), hashlib.sha256()
    lanes = HashLanes([md5.update, sha.update])
    data = bytes(range(256)) * 40_000
    for pos in range(0, len(data), 1 << 20):
        await lanes.submit(data[pos : pos + (1 << 20)])
    await lanes.drain()
    assert md5.digest() == hashlib.md5(data).digest() and sha.digest() == hashlib.sha256(data).digest()
