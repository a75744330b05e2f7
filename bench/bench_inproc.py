"""The gateway's own CPU per request, measured in-process: the ASGI app as ``s3bridge serve`` builds it,
fed raw ASGI requests on presigned URLs by one driver on uvloop, no socket and no HTTP parser.

    python3 bench/bench_inproc.py [--repo PATH] [--requests 3000] [--concurrency 16]
                                  [--figures get head put list] [--repeat 1] [--profile FILE]

On a machine shared with other work, a load generator's requests per second say more about the
neighbours than about the code; the process CPU time (``time.process_time``) a fixed number of requests
costs is far steadier. ``--repo`` runs another checkout's code (e.g. a ``git archive`` of the base
commit) with this same driver, for before/after figures. The fs backend has its default settings
(fsync on, access log on, written to a file). Figures: GET 4 KiB, HEAD, PUT 4 KiB, ListObjectsV2 of a
1,000-key page; each is CPU µs per request and requests per CPU second. ``--profile`` records the
measured requests (not the set-up) with cProfile, for ``python -m pstats FILE``; its overhead inflates the
figures of that run. ``--repeat N`` measures each figure N times and prints the run with the least CPU
(the one other processes disturbed least: on a shared machine a figure's spread is wide).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--figures", nargs="+", choices=["get", "head", "put", "list"], default=["get", "head", "put", "list"]
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each figure N times and print the least CPU"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the measured requests (not the set-up) into FILE"
    )
    args = parser.parse_args()
    sys.path.insert(0, args.repo)
    import boto3
    import uvloop
    from botocore.config import Config

    from gateway.cli import ENV_SERVE_ARGS, create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-inproc-"))
    (tmp / "gateway.yaml").write_text(
        json.dumps(
            {
                "credentials": [{"access_key": "bench", "secret_key": "bench-secret-0123456789"}],
                "backends": {"local": {"type": "fs", "root": str(tmp / "data")}},
            }
        )
    )
    sys.stderr = open(tmp / "access.log", "w")  # noqa: SIM115 - the access log's destination for the run
    os.environ[ENV_SERVE_ARGS] = json.dumps(
        {"config": str(tmp / "gateway.yaml"), "data_dir": None, "overrides": {}}
    )
    app = create_app()
    s3 = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id="bench",
        aws_secret_access_key="bench-secret-0123456789", region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip

    def presigned(method: str, **params: Any) -> tuple[str, bytes]:
        url = urlsplit(
            s3.generate_presigned_url(method, Params={"Bucket": "bench", **params}, ExpiresIn=7200)
        )
        return url.path, url.query.encode()

    async def call(method: str, target: tuple[str, bytes], body: bytes = b"") -> int:
        path, query = target
        headers = [(b"host", b"127.0.0.1:9000"), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 9000),
        }  # fmt: skip
        sent_body = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def run() -> None:
        await call("PUT", presigned("create_bucket"))
        await call("PUT", presigned("put_object", Key="small"), os.urandom(4096))
        for i in range(1000):
            await call("PUT", presigned("put_object", Key=f"list/{i:06d}"), b"x")
        figures = [
            ("GET 4 KiB", "GET", [presigned("get_object", Key="small")], b"", args.requests),
            ("HEAD", "HEAD", [presigned("head_object", Key="small")], b"", args.requests),
            ("PUT 4 KiB", "PUT", [presigned("put_object", Key=f"p{i}") for i in range(16)], os.urandom(4096),
             args.requests // 3),
            ("ListObjectsV2 1,000 keys", "GET", [presigned("list_objects_v2", Prefix="list/", MaxKeys=1000)], b"",
             max(20, args.requests // 100)),
        ]  # fmt: skip
        chosen = {"GET 4 KiB": "get", "HEAD": "head", "PUT 4 KiB": "put", "ListObjectsV2 1,000 keys": "list"}
        figures = [f for f in figures if chosen[f[0]] in args.figures]
        profiler = cProfile.Profile(time.thread_time) if args.profile else None  # the loop thread's CPU
        print(
            "| figure | CPU µs per request | of which the loop thread | requests per CPU second | wall requests/s |"
        )
        print("|---|---|---|---|---|")
        for name, method, targets, body, n in figures:
            per_worker = n // args.concurrency

            async def worker(
                w: int, method: str, targets: list[tuple[str, bytes]], body: bytes, n: int
            ) -> None:
                for i in range(n):
                    status = await call(method, targets[(w + i) % len(targets)], body)
                    if status >= 300:
                        raise RuntimeError(f"{method} {targets[0][0]}: {status}")

            await asyncio.gather(*(worker(w, method, targets, body, per_worker) for w in range(2)))  # warm up
            runs = []
            for _ in range(args.repeat):
                cpu0, wall0, loop0 = time.process_time(), time.monotonic(), time.thread_time()
                if profiler:
                    profiler.enable()
                await asyncio.gather(
                    *(worker(w, method, targets, body, per_worker) for w in range(args.concurrency))
                )
                if profiler:
                    profiler.disable()
                now = time.process_time(), time.monotonic(), time.thread_time()
                runs.append((now[0] - cpu0, now[1] - wall0, now[2] - loop0))
            cpu, wall, loop = min(runs)  # the run least disturbed by other work on the machine
            done = per_worker * args.concurrency
            print(
                f"| {name} | {cpu / done * 1e6:,.0f} | {loop / done * 1e6:,.0f} | {done / cpu:,.0f} "
                f"| {done / wall:,.0f} |",
                flush=True,
            )
        if profiler:
            profiler.dump_stats(args.profile)

    uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
