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


def through_gateway(tmp: Path, label: str, size: int) -> tuple[float, float]:
    """Seconds for one PUT and one GET of ``size`` bytes through a gateway process."""
    import boto3
    import yaml
    from botocore.config import Config

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
        client = boto3.client(
            "s3", endpoint_url=server.url, aws_access_key_id="bench", aws_secret_access_key="bench-secret-0123",
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"),
        )  # fmt: skip
        client.create_bucket(Bucket="bench")
        started = time.perf_counter()
        client.put_object(Bucket="bench", Key="big", Body=_Sized(Source(size)), ContentLength=size)
        put = time.perf_counter() - started
        started = time.perf_counter()
        seen = sum(len(c) for c in client.get_object(Bucket="bench", Key="big")["Body"].iter_chunks(CHUNK))
        get = time.perf_counter() - started
        assert seen == size
        return put, get
    finally:
        server.stop()


def report(title: str, results: dict[str, tuple[float, float]], size: int) -> None:
    mib = size / CHUNK
    print(title)
    for label, (put, get) in results.items():
        print(f"  {label:8} PUT {mib / put:8.1f} MiB/s   GET {mib / get:8.1f} MiB/s")
    (bput, bget), (eput, eget) = results["bare"], results["encrypt"]
    print(f"  encrypt/bare throughput: PUT {bput / eput:.2f}  GET {bget / eget:.2f}  (goal: >= 0.85)")


def gateway_level(size: int, rounds: int) -> None:
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("bare", "encrypt"):
            times = [through_gateway(Path(tmp), label, size) for _ in range(rounds)]
            results[label] = (min(t[0] for t in times), min(t[1] for t in times))
    report(f"through the gateway process (boto3, loopback), {size // CHUNK} MiB:", results, size)


async def backend_level(size: int, rounds: int) -> None:
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
