"""What the encrypt composite costs: PUT and GET of one large object on the filesystem backend, bare and
wrapped in ``encrypt``, in the same run; prints throughput and the encrypted/bare ratio.
Usage: python bench/bench_encrypt.py [--size-mib 1024] [--rounds 2] [--level gateway|backend|both]

Two levels: ``gateway`` runs the real gateway process (boto3 PUT/GET over loopback, as a client sees
it: the issue's 15% goal); ``backend`` drives the backend contract directly (no HTTP, no signature
checks), the layer's own cost against a bare read from the page cache, an upper bound. Bodies are
generated 1 MiB at a time and what is read is discarded, so nothing holds the object. Each figure is
the best of ``rounds`` (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from bench.bench_fs import Source, _Sized  # noqa: E402
from tests.helpers.procs import gateway_server  # noqa: E402

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


#: (wall seconds, CPU seconds of the process doing the work) of a PUT, then of a GET.
Times = tuple[float, float, float, float]


def gateway_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one(backend: Backend, size: int) -> Times:
    """One PUT and one GET of ``size`` bytes through ``backend``, in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    await backend.put_object("bench", "big", Generated(size), ObjectMeta())
    put, put_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    got = await backend.get_object("bench", "big")
    seen = 0
    async for chunk in got.body:
        seen += len(chunk)
    assert seen == size, (seen, size)
    return put, put_cpu, time.perf_counter() - wall, time.process_time() - cpu


def through_gateway(tmp: Path, label: str, size: int) -> Times:
    """One PUT and one GET of ``size`` bytes through a gateway process (its CPU time, not the client's)."""
    import yaml

    from tests.helpers.clients import boto3_client

    backends: dict[str, object] = {"disk": {"type": "fs", "root": str(tmp / label), "fsync": False}}
    if label == "encrypt":
        backends["sealed"] = {
            "type": "encrypt",
            "backend": "disk",
            "key_id": "b",
            "master_key": os.urandom(32).hex(),
        }
    doc = {
        "credentials": [{"access_key": "bench", "secret_key": "bench-secret-0123"}],
        "backends": backends,
        "routes": [{"bucket": "*", "backend": "sealed" if label == "encrypt" else "disk"}],
    }
    (tmp / f"{label}.yaml").write_text(yaml.safe_dump(doc))
    server = gateway_server(config=tmp / f"{label}.yaml").start()
    try:
        client = boto3_client(server.url, ("bench", "bench-secret-0123"))
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):  # a later round
            client.create_bucket(Bucket="bench")
        assert server.proc is not None
        pid = server.proc.pid
        wall, cpu = time.perf_counter(), gateway_cpu(pid)
        client.put_object(Bucket="bench", Key="big", Body=_Sized(Source(size)), ContentLength=size)
        put, put_cpu = time.perf_counter() - wall, gateway_cpu(pid) - cpu
        wall, cpu = time.perf_counter(), gateway_cpu(pid)
        seen = sum(len(c) for c in client.get_object(Bucket="bench", Key="big")["Body"].iter_chunks(CHUNK))
        assert seen == size
        return put, put_cpu, time.perf_counter() - wall, gateway_cpu(pid) - cpu
    finally:
        server.stop()


def report(title: str, results: dict[str, Times], size: int) -> None:
    """Throughput per wall second and per CPU second (the latter is what a busy shared machine leaves
    comparable), and the encrypted/bare ratios."""
    mib = size / CHUNK
    print(title)
    for label, t in results.items():
        print(
            f"  {label:8} PUT {mib / t[0]:8.1f} MiB/s ({mib / t[1]:8.1f} per CPU s)   "
            f"GET {mib / t[2]:8.1f} MiB/s ({mib / t[3]:8.1f} per CPU s)"
        )
    bare, enc = results["bare"], results["encrypt"]
    ratios = [b / e for b, e in zip(bare, enc, strict=True)]
    print(
        f"  encrypt/bare: PUT {ratios[0]:.2f} wall, {ratios[1]:.2f} CPU;  GET {ratios[2]:.2f} wall, "
        f"{ratios[3]:.2f} CPU  (goal: >= 0.85)"
    )


def best(times: list[Times]) -> Times:
    return tuple(min(t[i] for t in times) for i in range(4))  # type: ignore[return-value]


def gateway_level(size: int, rounds: int) -> None:
    results: dict[str, Times] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("bare", "encrypt"):
            times = [through_gateway(Path(tmp), label, size) for _ in range(rounds)]
            results[label] = best(times)
    report(f"through the gateway process (boto3, loopback), {size // CHUNK} MiB:", results, size)


async def backend_level(size: int, rounds: int) -> None:
    results: dict[str, Times] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("bare", "encrypt"):
            fs = FsBackend(Path(tmp) / label, name=f"fs-{label}", fsync=False)
            backend: Backend = (
                fs if label == "bare" else Encrypt(fs, Keyring("bench", {"bench": os.urandom(32)}))
            )
            await backend.start()
            await backend.create_bucket("bench")
            times = [await one(backend, size) for _ in range(rounds)]
            results[label] = best(times)
            await backend.delete_object("bench", "big")
            await backend.close()
    report(f"the backend contract directly, {size // CHUNK} MiB:", results, size)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--level", choices=["gateway", "backend", "both"], default="both")
    args = parser.parse_args()
    if args.level in ("gateway", "both"):
        gateway_level(args.size_mib * CHUNK, args.rounds)
    if args.level in ("backend", "both"):
        asyncio.run(backend_level(args.size_mib * CHUNK, args.rounds))
