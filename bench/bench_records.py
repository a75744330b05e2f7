"""What object records cost on the s3 backend over moto: a 4 KiB PUT, HEAD and GET, one at a time.

``python3 bench/bench_records.py [--count 300] [--rounds 3]``. Three backends on one moto process: the
s3 backend without ``meta_bucket`` (no records), with it and bodies without checksums (nothing to
record), and with it and bodies carrying a CRC32 (a record written per PUT, read per HEAD/GET). Prints
the median latency of each operation per backend over the rounds, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.base import Backend, ObjectMeta  # noqa: E402
from backends.s3.backend import build  # noqa: E402
from backends.s3.settings import Settings  # noqa: E402
from tests.helpers.bodies import ChunkedBody, read_all  # noqa: E402
from tests.helpers.emulated import no_lookup  # noqa: E402
from tests.helpers.procs import moto_server  # noqa: E402

BODY = bytes(range(256)) * 16  # 4 KiB
CRC32 = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()


def backend(url: str, meta: str | None) -> Backend:
    settings = Settings.model_validate(
        {"type": "s3", "endpoint": url, "access_key": "a", "secret_key": "b", "meta_bucket": meta}
    )
    return build(settings, name="bench", lookup=no_lookup)


async def one_round(store: Backend, bucket: str, count: int, sums: dict[str, str]) -> dict[str, float]:
    """Median milliseconds of ``count`` sequential PUTs, then HEADs (plain, then with the stored
    checksums, as ``x-amz-checksum-mode: ENABLED`` asks), then GETs of 16 keys."""
    timings: dict[str, list[float]] = {"put": [], "head": [], "sums": [], "get": []}
    for i in range(count):
        started = time.perf_counter()
        await store.put_object(bucket, f"k{i % 16}", ChunkedBody(BODY, checksums=sums), ObjectMeta())
        timings["put"].append(time.perf_counter() - started)
    for i in range(count):
        started = time.perf_counter()
        await store.head_object(bucket, f"k{i % 16}")
        timings["head"].append(time.perf_counter() - started)
    for i in range(count):  # a HEAD with x-amz-checksum-mode: ENABLED
        started = time.perf_counter()
        key = f"k{i % 16}"
        await store.stored_checksums(bucket, key, await store.head_object(bucket, key))
        timings["sums"].append(time.perf_counter() - started)
    for i in range(count):
        started = time.perf_counter()
        await read_all(await store.get_object(bucket, f"k{i % 16}"))
        timings["get"].append(time.perf_counter() - started)
    return {op: statistics.median(values) * 1000 for op, values in timings.items()}


async def main(count: int, rounds: int) -> None:
    with moto_server(log_path=Path("/tmp/bench-records-moto.log")) as moto:
        cases = {
            "no records": (backend(moto.url, None), {}),
            "records, no checksum": (backend(moto.url, "bench-meta"), {}),
            "records, CRC32": (backend(moto.url, "bench-meta"), {"crc32": CRC32}),
        }
        for n, (store, _) in enumerate(cases.values()):
            await store.start()
            await store.create_bucket(f"bench-{n}")
        results: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
        for _ in range(rounds):
            for n, (name, (store, sums)) in enumerate(cases.items()):
                results[name].append(await one_round(store, f"bench-{n}", count, sums))
        print(
            f"| backend | PUT 4 KiB | HEAD | HEAD, checksum mode | GET 4 KiB |  (median ms, {rounds}x{count})"
        )
        print("| --- | --- | --- | --- | --- |")
        for name, runs in results.items():
            cells = [f"{statistics.median(r[op] for r in runs):.2f}" for op in ("put", "head", "sums", "get")]
            print(f"| {name} | " + " | ".join(cells) + " |")
        for store, _ in cases.values():
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.rounds))
