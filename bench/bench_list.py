"""Listing speed on the fs backend (issue 15): one 1,000-key page, from a small bucket and from a
bucket holding a million keys under one prefix, through the backend, the in-process app and HTTP.

    python3 bench/bench_list.py [--keys 1000000] [--root DIR] [--repo PATH] [--seconds 3]
                                [--skip backend inproc http]

- ``big``: ``--keys`` objects ``data/0000000`` ... under one prefix, written straight into the fs layout
  (the object file format of ``backends.fs.format``, empty bodies): a million files in about a minute,
  where a million PUTs would take an hour. They are written as an older gateway left them, with no
  listing index, so the first listing of the prefix shows what reading such data costs the first time.
  ``--root`` keeps the data between runs (made only when missing), so a base commit (``--repo``, e.g. a
  ``git archive`` of it) and this branch list the very same files.
- ``small``: 1,000 objects ``list/000000`` ... PUT through the backend (so whatever a write maintains is
  maintained), listed whole as one page, over and over: pages per second.
- Figures: for ``big`` the first page, a middle page (start-after the middle key) and the last page,
  each the best of three, wall and process CPU, with the peak memory that page allocated (tracemalloc,
  measured in a separate call: tracing slows Python down); for ``small`` pages per second for
  ``--seconds``. Backend: ``FsBackend`` called directly (``list_objects_listed``, what the gateway
  calls, where the code has it). In-process: the ASGI app ``s3bridge serve``
  builds, fed presigned ListObjectsV2 requests (auth, routing, XML, access log; no socket). HTTP: the
  real ``s3bridge serve`` process (one worker, default settings), one keep-alive client for the page
  latencies and ``wrk`` (4 connections) for pages per second, with the server's CPU per page and its
  peak RSS from ``/proc``.

A script, not a test: not part of ``.ci/run``; every loop is bounded and the server is stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
import loadgen  # noqa: E402

from tests.helpers.procs import ServerProcess, free_port, http_ready  # noqa: E402

AK, SK = "bench", "bench-secret-0123456789"
BIG, SMALL = "big", "small"
SMALL_KEYS = 1000


def big_key(i: int) -> str:
    return f"data/{i:07d}"


def populate_big(root: Path, keys: int) -> None:
    """``keys`` empty objects under ``data/`` written straight into the fs layout (no index)."""
    from backends.base import ObjectMeta
    from backends.fs.format import Record, footer_bytes, meta_to_dict
    from backends.fs.keys import key_components

    bucket = root / BIG
    done = bucket / ".bench-populated"
    if done.exists() and int(done.read_text()) == keys:
        return
    shutil.rmtree(bucket, ignore_errors=True)
    # Written behind the gateway's back, as an older one left its data: no index may describe it.
    for index in (root / ".s3bridge" / "index").glob(f"{BIG}.*"):
        index.unlink()
    bucket.mkdir(parents=True)
    (bucket / ".created").write_text(str(time.time_ns()))
    blob = footer_bytes(Record(hashlib.md5(b"").hexdigest(), time.time_ns(), meta_to_dict(ObjectMeta())))
    directory = bucket / key_components(big_key(0))[0]
    directory.mkdir()
    t0 = time.monotonic()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(keys):
        fd = os.open(directory / key_components(big_key(i))[-1], flags, 0o644)
        os.write(fd, blob)
        os.close(fd)
        if i and i % 200_000 == 0:
            print(f"  populated {i:,} keys in {time.monotonic() - t0:.0f} s", flush=True)
    done.write_text(str(keys))
    print(f"populated {keys:,} keys in {time.monotonic() - t0:.0f} s", flush=True)


async def timed(call: Callable[[], Awaitable[Any]], repeat: int = 3) -> tuple[float, float, Any]:
    """Best (wall ms, CPU ms) of ``repeat`` calls, and the last result."""
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = await call()
        best_wall = min(best_wall, (time.perf_counter() - wall0) * 1e3)
        best_cpu = min(best_cpu, (time.process_time() - cpu0) * 1e3)
    return best_wall, best_cpu, result


async def traced_peak_mib(call: Callable[[], Awaitable[Any]]) -> float:
    tracemalloc.start()
    try:
        await call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def rate(call: Callable[[], Awaitable[Any]], seconds: float) -> tuple[float, float]:
    """(calls per wall second, CPU ms per call) over about ``seconds``; at most 100,000 calls."""
    n = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds and n < 100_000:
        await call()
        n += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return n / wall, cpu / n * 1e3


def middle_and_last(keys: int) -> list[tuple[str, str]]:
    """(label, start-after) of the pages timed in ``big``."""
    return [("first", ""), ("middle", big_key(keys // 2)), ("last", big_key(max(0, keys - 1001)))]


def expected(keys: int, after: str) -> tuple[int, bool]:
    """(keys, truncated) of the page after ``after``."""
    rest = keys - (int(after[len("data/") :]) + 1 if after else 0)
    return min(rest, 1000), rest > 1000


def row(label: str, wall: float, cpu: float, extra: str = "") -> None:
    print(f"| {label} | {wall:,.1f} | {cpu:,.1f} | {extra} |", flush=True)


async def bench_backend(root: Path, keys: int, seconds: float) -> None:
    from backends.fs.backend import FsBackend

    backend = FsBackend(root)
    await backend.start()
    # The form the gateway asks for (the light one where the code has it; a base commit's otherwise).
    list_page = getattr(backend, "list_objects_listed", backend.list_objects)
    try:
        print(
            "\n### backend (FsBackend in-process)\n\n| page | wall ms | CPU ms | notes |\n|---|---|---|---|"
        )
        for label, after in middle_and_last(keys):

            async def page(after: str = after) -> Any:
                return await list_page(BIG, "data/", "", after, 1000)

            if label == "first":
                wall, cpu, _ = await timed(page, repeat=1)
                row("first listing of the data (cold)", wall, cpu)
            wall, cpu, result = await timed(page)
            if (len(result.objects), result.is_truncated) != expected(keys, after):
                raise SystemExit(f"{label} page: {len(result.objects)} keys, truncated {result.is_truncated}")
            peak = await traced_peak_mib(page)
            row(f"big, {label} page", wall, cpu, f"peak traced {peak:.2f} MiB")

        async def small() -> Any:
            return await list_page(SMALL, "list/", "", "", 1000)

        assert len((await small()).objects) == SMALL_KEYS
        per_s, cpu = await rate(small, seconds)
        row("small, 1,000-key page, repeated", 1e3 / per_s, cpu, f"**{per_s:,.0f} pages/s**")
    finally:
        await backend.close()


def make_config(root: Path, data: Path) -> Path:
    config = root / "bench-list.yaml"
    config.write_text(
        json.dumps(
            {
                "credentials": [{"access_key": AK, "secret_key": SK}],
                "backends": {"local": {"type": "fs", "root": str(data)}},
            }
        )
    )
    return config


def presigner(endpoint: str) -> Callable[..., str]:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip

    def presign(method: str, **params: Any) -> str:
        url = urlsplit(s3.generate_presigned_url(method, Params=params, ExpiresIn=7200))
        return f"{url.path}?{url.query}"

    return presign


def list_url(presign: Callable[..., str], bucket: str, prefix: str, after: str = "") -> str:
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
    if after:
        params["StartAfter"] = after
    return presign("list_objects_v2", **params)


async def bench_inproc(root: Path, data: Path, keys: int, seconds: float) -> None:
    from gateway.cli import ENV_SERVE_ARGS, create_app

    os.environ[ENV_SERVE_ARGS] = json.dumps(
        {"config": str(make_config(root, data)), "data_dir": None, "overrides": {}}
    )
    saved, sys.stderr = sys.stderr, (root / "access.log").open("w")  # noqa: SIM115 - the access log
    app = create_app()
    presign = presigner("http://127.0.0.1:9000")

    async def call(target: str) -> int:
        path, _, query = target.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1:9000"), (b"content-length", b"0")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 9000),
        }  # fmt: skip
        status, sent = 0, False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        if status != 200:
            raise SystemExit(f"GET {path}: {status}")
        return status

    try:
        async with _lifespan(app):
            print("\n### in-process app (ListObjectsV2, presigned)\n\n| page | wall ms | CPU ms | notes |")
            print("|---|---|---|---|")
            for label, after in middle_and_last(keys):
                url = list_url(presign, BIG, "data/", after)
                wall, cpu, _ = await timed(lambda url=url: call(url))
                row(f"big, {label} page", wall, cpu)
            small = list_url(presign, SMALL, "list/")
            await call(small)
            per_s, cpu = await rate(lambda: call(small), seconds)
            row("small, 1,000-key page, repeated", 1e3 / per_s, cpu, f"**{per_s:,.0f} pages/s**")
    finally:
        sys.stderr.close()
        sys.stderr = saved


class _lifespan:
    """Runs the app's lifespan startup/shutdown around the block (the fs backend's start)."""

    def __init__(self, app: Any):
        self.app = app
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.done: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        self.task = asyncio.create_task(
            self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, self.events.get, self.done.put)
        )
        await self.events.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(self.done.get(), 60)
        if message["type"] != "lifespan.startup.complete":
            raise SystemExit(f"app startup: {message}")

    async def __aexit__(self, *exc: object) -> None:
        await self.events.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self.done.get(), 60)
        assert self.task is not None
        await self.task


def bench_http(root: Path, data: Path, keys: int, seconds: float, repo: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--config", str(make_config(root, data))]
    env = {"PYTHONPATH": str(repo)}
    server = ServerProcess(argv, port, env=env, cwd=repo, log_path=root / "serve.log", ready=http_ready("/"))
    server.start(timeout=60)
    try:
        pid = server.proc.pid  # type: ignore[union-attr]
        presign = presigner(server.url)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

        def get(url: str) -> None:
            conn.request("GET", url)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"GET {url}: {response.status} {body[:300]!r}")

        print("\n### HTTP (`s3bridge serve`, one worker)\n\n| page | wall ms | server CPU ms | notes |")
        print("|---|---|---|---|")
        for label, after in middle_and_last(keys):
            url = list_url(presign, BIG, "data/", after)
            best = (float("inf"), float("inf"))
            for _ in range(3):
                cpu0, wall0 = loadgen.cpu_seconds(pid), time.perf_counter()
                get(url)
                wall, cpu = (time.perf_counter() - wall0) * 1e3, (loadgen.cpu_seconds(pid) - cpu0) * 1e3
                best = min(best, (wall, cpu))
            row(f"big, {label} page", best[0], best[1], "(CPU from /proc: 10 ms ticks)")
        small = list_url(presign, SMALL, "list/")
        get(small)
        load = loadgen.wrk(server.url, "GET", [small], server_pid=pid, connections=4, seconds=seconds)
        note = f"**{load.per_s:,.0f} pages/s** (wrk, 4 connections; {load.errors} failed)"
        row(
            "small, 1,000-key page, repeated",
            1e3 / max(load.per_s, 1e-9),
            load.cpu_us_per_request / 1e3,
            note,
        )
        print(f"\nserver peak RSS (VmHWM): {loadgen.peak_rss_mib(pid):.1f} MiB")
    finally:
        server.stop()


async def populate_small(data: Path) -> None:
    from backends.base import ObjectMeta
    from backends.fs.backend import FsBackend
    from tests.helpers.bodies import ChunkedBody

    backend = FsBackend(data, fsync=False)
    await backend.start()
    try:
        try:
            await backend.create_bucket(SMALL)
        except Exception:  # noqa: BLE001 - kept from an earlier run
            shutil.rmtree(data / SMALL)
            await backend.create_bucket(SMALL)
        for i in range(SMALL_KEYS):
            await backend.put_object(SMALL, f"list/{i:06d}", ChunkedBody(b"x"), ObjectMeta())
    finally:
        await backend.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--root", type=Path, help="keep the data here (default: a temp dir, removed)")
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="the checkout whose code runs")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["backend", "inproc", "http"])
    args = parser.parse_args()
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    for name in [m for m in sys.modules if m.split(".")[0] in ("backends", "gateway")]:
        del sys.modules[name]
    import uvloop

    root = args.root or Path(tempfile.mkdtemp(prefix="bench-list-"))
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    print(f"code: {repo}; data: {data}; {args.keys:,} keys in `big`")
    try:
        populate_big(data, args.keys)
        uvloop.run(populate_small(data))
        if "backend" not in args.skip:
            uvloop.run(bench_backend(data, args.keys, args.seconds))
        if "inproc" not in args.skip:
            uvloop.run(bench_inproc(root, data, args.keys, args.seconds))
        if "http" not in args.skip:
            bench_http(root, data, args.keys, args.seconds, repo)
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
