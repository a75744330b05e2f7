"""What the encrypt composite costs: PUT and GET of one large object on the filesystem backend, bare and
wrapped in ``encrypt``, in the same run; prints throughput and the encrypted/bare ratio.
Usage: python bench/bench_encrypt.py [--size-mib 1024] [--rounds 2]

It drives the backend contract directly (no HTTP, no signature checks), so the ratio is the layer's own
cost, not diluted by the rest of the gateway. The body is generated 1 MiB at a time and what is read is
discarded, so nothing holds the object. Each measurement is the best of ``rounds`` (the machine is
shared); the target is at most 15% cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends.base import Backend, ObjectMeta  # noqa: E402
from backends.composite.encrypt import Encrypt  # noqa: E402
from backends.composite.keys import Keyring  # noqa: E402
from backends.fs.backend import FsBackend  # noqa: E402

CHUNK = 1024 * 1024


class Generated:
    """A PutBody of ``size`` bytes made 1 MiB at a time."""

    def __init__(self, size: int):
        self.size: int | None = size
        self._block = os.urandom(CHUNK)

    @property
    def checksums(self) -> dict[str, str]:
        return {}

    async def __aiter__(self) -> AsyncIterator[bytes]:
        left = self.size or 0
        while left:
            n = min(CHUNK, left)
            yield self._block if n == CHUNK else self._block[:n]
            left -= n


async def one(backend: Backend, size: int) -> tuple[float, float]:
    """Seconds for one PUT and one GET of ``size`` bytes."""
    started = time.perf_counter()
    await backend.put_object("bench", "big", Generated(size), ObjectMeta())
    put = time.perf_counter() - started
    started = time.perf_counter()
    got = await backend.get_object("bench", "big")
    seen = 0
    async for chunk in got.body:
        seen += len(chunk)
    get = time.perf_counter() - started
    assert seen == size, (seen, size)
    return put, get


async def main(size: int, rounds: int) -> None:
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("bare", "encrypt"):
            fs = FsBackend(Path(tmp) / label, name=f"fs-{label}", fsync=False)
            backend: Backend = (
                fs if label == "bare" else Encrypt(fs, Keyring("bench", {"bench": os.urandom(32)}))
            )
            await backend.start()
            await backend.create_bucket("bench")
            times = [await one(backend, size) for _ in range(rounds)]
            results[label] = (min(t[0] for t in times), min(t[1] for t in times))
            await backend.delete_object("bench", "big")
            await backend.close()
    mib = size / CHUNK
    for label, (put, get) in results.items():
        print(f"{label:8} PUT {mib / put:8.1f} MiB/s   GET {mib / get:8.1f} MiB/s")
    (bput, bget), (eput, eget) = results["bare"], results["encrypt"]
    print(f"encrypt/bare throughput: PUT {bput / eput:.2f}  GET {bget / eget:.2f}  (goal: >= 0.85)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.size_mib * CHUNK, args.rounds))
