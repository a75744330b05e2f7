"""Small requests and large bodies through s3bridge and its peers, side by side, in interleaved rounds.

    python3 bench/bench_small.py [--rounds 3] [--seconds 5] [--connections 16] [--large-mib 256]
    python3 bench/bench_small.py --mode s3-backend   # s3bridge's s3 backend on moto vs moto direct
    python3 bench/bench_small.py --mode s3-backend --store s3bridge   # ... on another s3bridge (fs)
    python3 bench/bench_small.py --mode workers      # --workers 2 vs --workers 1, wrk pinned to one core

``peers`` (the default) runs, each as its own process on 127.0.0.1: s3bridge on the fs backend with its
default settings (fsync on, access log on, written to a file), the same with ``fsync: false`` (PUT 4 KiB
only), moto's S3 server (``pip install moto[server]``) and s3rver 3.7.1 on Node (installed by this
script with npm into ``bench/.peers/``). Every figure is measured on every server in turn, round after
round, so a noisy neighbour on the shared machine hits them alike; the table shows each figure's
median over the rounds, the ratio of the first server to each other one, and the server CPU per request
(user + system of its process tree, from /proc/<pid>/stat, over the run).

Small requests: wrk, 16 keep-alive connections, presigned SigV4 URLs (the client does no signing; PUTs
rotate over 16 keys). Large bodies: curl; the 256 MiB PUT is one stream signed with the body's SHA-256
and Content-MD5 (both verified by s3bridge), the GET is two concurrent streams of that object. Peak RSS
is each server's VmHWM at the end. Every loop is bounded (wrk stops itself; every child has a timeout)
and every process started here is stopped by its pid.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
import largebodies  # noqa: E402  (bench/ is the script's directory)
import loadgen  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.helpers.procs import ServerProcess, free_port, gateway_server, http_ready, moto_server  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / ".peers"
S3RVER_VERSION = "3.7.1"
MiB = 2**20
SMALL = 4096
PUT_KEYS = 16
LIST_KEYS = 1000
#: The large-PUT variants only s3bridge is asked for (the peers take the SHA-256-signed one).
BRIDGE_ONLY = {"putunsigned", "putchunked", "putsigned"}
CHUNKED_FIGURES = {"putchunked", "putsigned"}


@dataclass
class Server:
    """A running S3 server and the keys that sign for it."""

    name: str
    proc: ServerProcess
    access_key: str
    secret_key: str
    #: Figures this server takes part in, by key (None: all).
    only: set[str] | None = None
    bucket: str = "bench"

    @property
    def pid(self) -> int:
        assert self.proc.proc is not None
        return self.proc.proc.pid

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3", endpoint_url=self.proc.url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required", max_pool_connections=16),
        )  # fmt: skip


# ---------------------------------------------------------------- servers


def s3rver(root: Path) -> Server:
    binary = PEERS_DIR / "node_modules" / ".bin" / "s3rver"
    if not binary.exists():
        PEERS_DIR.mkdir(exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"s3rver@{S3RVER_VERSION}"],
            cwd=PEERS_DIR, check=True, timeout=600,
        )  # fmt: skip
    port = free_port()
    data = root / "s3rver"
    data.mkdir()
    argv = [str(binary), "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "--silent"]
    proc = ServerProcess(argv, port, log_path=root / "s3rver.log", ready=http_ready("/"))
    return Server("s3rver", proc, "S3RVER", "S3RVER")


def s3bridge(root: Path, name: str, backend_yaml: str | None = None, workers: int = 1) -> Server:
    """A gateway with default settings (a config file only when a backend other than the default is
    wanted); its access log goes to a file, as a deployment's would."""
    ak, sk = "bench", "bench-secret-0123456789"
    extra = ["--workers", str(workers)] if workers != 1 else []
    if backend_yaml is None:
        proc = gateway_server(
            data_dir=root / name,
            access_key=ak,
            secret_key=sk,
            log_path=root / f"{name}.log",
            extra_args=extra,
        )
    else:
        config = root / f"{name}.yaml"
        config.write_text(
            f"credentials:\n  - access_key: {ak}\n    secret_key: {sk}\n"
            f"backends:\n  store:\n    {backend_yaml}"
        )
        proc = gateway_server(config=config, log_path=root / f"{name}.log", extra_args=extra)
    return Server(name, proc, ak, sk)


def moto(root: Path, name: str = "moto") -> Server:
    return Server(name, moto_server(log_path=root / f"{name}.log"), "bench", "bench-secret")


def s3_store(root: Path, kind: str) -> Server:
    """The store under the s3 backend in ``--mode s3-backend``: moto, or another s3bridge on fs with
    ``fsync: false``. moto keeps a PUT's body whole and only then does its own work (the gateway's
    forwarding and moto's processing add up); s3bridge streams it, so the two overlap and the ratio shows
    the gateway's own cost per byte."""
    if kind == "moto":
        return moto(root, "moto-direct")
    fs = f"type: fs\n    root: {root / 'store-data'}\n    fsync: false\n"
    return s3bridge(root, "s3bridge-store-direct", fs)


# ---------------------------------------------------------------- data and URLs


@dataclass
class Prepared:
    """One server's objects and the presigned paths the figures request."""

    get_small: str
    head_small: str
    put_small: list[str]
    list_page: str
    get_mid: str
    get_big: str
    put_big_url: str
    #: the ways of uploading the large object (bench/largebodies.py), by variant
    uploads: dict[str, largebodies.Upload] = field(default_factory=dict)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def prepare(
    server: Server, big: Path, big_sha256: str, big_md5: str, list_keys: int, chunked: bool
) -> Prepared:
    s3 = server.client()
    bucket = server.bucket
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="small", Body=os.urandom(SMALL))
    s3.put_object(Bucket=bucket, Key="mid", Body=os.urandom(MiB))
    if list_keys:
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: s3.put_object(Bucket=bucket, Key=f"list/{i:06d}", Body=b"x"), range(list_keys)
                )
            )

    def presign(method: str, **params: object) -> str:
        return _path(s3.generate_presigned_url(method, Params={"Bucket": bucket, **params}, ExpiresIn=7200))

    url = f"{server.proc.url}/{bucket}/big"
    ways = largebodies.uploads(
        url, big, big_sha256, big_md5, server.access_key, server.secret_key, tag=server.name, chunked=chunked
    )
    return Prepared(
        get_small=presign("get_object", Key="small"),
        head_small=presign("head_object", Key="small"),
        put_small=[presign("put_object", Key=f"put-{i}") for i in range(PUT_KEYS)],
        list_page=presign("list_objects_v2", Prefix="list/", MaxKeys=1000),
        get_mid=presign("get_object", Key="mid"),
        get_big=presign("get_object", Key="big"),
        put_big_url=url,
        uploads=ways,
    )


def big_file(root: Path, size: int) -> tuple[Path, str, str]:
    """A file of ``size`` random bytes, its hex SHA-256 and base64 MD5."""
    path = root / "big.bin"
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(MiB, left))
            sha.update(chunk)
            md5.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return path, sha.hexdigest(), base64.b64encode(md5.digest()).decode()


# ---------------------------------------------------------------- figures


@dataclass
class Sample:
    value: float
    cpu_us: float | None = None


@dataclass
class Figure:
    key: str
    name: str
    unit: str
    run: Callable[[Server, Prepared], Sample]


def _counted(server: Server, method: str, result: loadgen.Load) -> Sample:
    """Only successful requests count; a peer failing some under load is reported, not fatal."""
    if result.errors:
        print(f"  ({server.name} {method}: {result.errors} failed requests, not counted)", flush=True)
        result.requests = max(0, result.requests - result.errors)
    return Sample(result.per_s, result.cpu_us_per_request)


def small_figures(args: argparse.Namespace, big: Path) -> list[Figure]:
    def load(method: str, pick: Callable[[Prepared], list[str]], body: int = 0, mib: bool = False):  # type: ignore[no-untyped-def]
        def run(server: Server, prep: Prepared) -> Sample:
            if method == "HEAD":
                result = loadgen.hey(
                    server.proc.url + pick(prep)[0], method, server_pid=server.pid,
                    connections=args.connections, seconds=args.seconds, taskset=args.client_cpu,
                )  # fmt: skip
                return _counted(server, method, result)
            result = loadgen.wrk(
                server.proc.url, method, pick(prep), server_pid=server.pid, connections=args.connections,
                seconds=args.seconds, body_size=body, taskset=args.client_cpu,
            )  # fmt: skip
            return _counted(server, method, result)

        return run

    def put_big(variant: str) -> Callable[[Server, Prepared], Sample]:
        def run(server: Server, prep: Prepared) -> Sample:
            way = prep.uploads[variant]
            t = loadgen.curl_put(prep.put_big_url, way.path, way.headers, server.pid)
            wall = way.path.stat().st_size / MiB / t.mib_s  # curl's rate counts the framing too
            return Sample(big.stat().st_size / MiB / wall, t.cpu_s * 1e6)

        return run

    def get_big(server: Server, prep: Prepared) -> Sample:
        url = server.proc.url + prep.get_big
        t = loadgen.curl_get([url, url], big.stat().st_size, server.pid)
        return Sample(t.mib_s, t.cpu_s * 1e6 / 2)

    return [
        Figure("get4k", "GET 4 KiB", "ops/s", load("GET", lambda p: [p.get_small])),
        Figure("head", "HEAD", "ops/s", load("HEAD", lambda p: [p.head_small])),
        Figure("put4k", "PUT 4 KiB", "ops/s", load("PUT", lambda p: p.put_small, SMALL)),
        Figure("list", "ListObjectsV2 1,000 keys", "/s", load("GET", lambda p: [p.list_page])),
        Figure("get1m", "GET 1 MiB", "MiB/s", load("GET", lambda p: [p.get_mid])),
        Figure("putbig", f"PUT {big.stat().st_size // MiB} MiB, 1 stream", "MiB/s", put_big("sha256")),
        Figure("putunsigned", "… UNSIGNED-PAYLOAD + MD5", "MiB/s", put_big("unsigned")),
        Figure("putchunked", "… aws-chunked, CRC32 trailer", "MiB/s", put_big("chunked")),
        Figure("putsigned", "… aws-chunked, signed chunks", "MiB/s", put_big("chunked-signed")),
        Figure("getbig", f"GET {big.stat().st_size // MiB} MiB, 2 streams", "MiB/s", get_big),
    ]


# ---------------------------------------------------------------- the run


def run(servers: list[Server], figures: list[Figure], args: argparse.Namespace, root: Path) -> None:
    big, sha, md5 = big_file(root, args.large_mib * MiB)
    results: dict[tuple[str, str], list[Sample]] = {}
    try:
        for s in servers:
            if s.proc.proc is None:
                s.proc.start()
        chunked = any(f.key in CHUNKED_FIGURES for f in figures)
        preps = {s.name: prepare(s, big, sha, md5, LIST_KEYS if args.list else 0, chunked) for s in servers}
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers) :] + servers[: rnd % len(servers)]
            for fig in figures:
                for s in order:
                    if s.only is not None and fig.key not in s.only:
                        continue
                    if fig.key in BRIDGE_ONLY and not s.name.startswith("s3bridge"):
                        continue
                    sample = fig.run(s, preps[s.name])
                    results.setdefault((fig.name, s.name), []).append(sample)
                    cpu = f", {sample.cpu_us:.0f} µs CPU/req" if sample.cpu_us is not None else ""
                    print(
                        f"round {rnd + 1} {fig.name:<26} {s.name:<18} {sample.value:10.1f} {fig.unit}{cpu}",
                        flush=True,
                    )
        rss = {s.name: loadgen.peak_rss_mib(s.pid) for s in servers}
    finally:
        for s in servers:
            s.proc.stop()
    print_table(servers, figures, results, rss)


def _median(samples: list[Sample]) -> tuple[float, float | None]:
    value = statistics.median(s.value for s in samples)
    cpus = [s.cpu_us for s in samples if s.cpu_us is not None]
    return value, (statistics.median(cpus) if cpus else None)


def print_table(
    servers: list[Server],
    figures: list[Figure],
    results: dict[tuple[str, str], list[Sample]],
    rss: dict[str, float],
) -> None:
    subject, peers = servers[0], servers[1:]
    head = [
        "figure (median of rounds)",
        *(s.name for s in servers),
        *(f"{subject.name} / {p.name}" for p in peers),
    ]
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))

    def fmt(v: float) -> str:
        return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"

    for fig in figures:
        vals, cpus = [], []
        for s in servers:
            samples = results.get((fig.name, s.name))
            vals.append(_median(samples)[0] if samples else None)
            cpus.append(_median(samples)[1] if samples else None)
        base = vals[0]
        ratios = [f"{base / v:.2f}" if base is not None and v else "–" for v in vals[1:]]
        cells = [fmt(v) if v is not None else "–" for v in vals]
        print(f"| {fig.name}, {fig.unit} | " + " | ".join(cells + ratios) + " |")
        if any(c is not None for c in cpus):
            cells = [f"{c:,.0f}" if c is not None else "–" for c in cpus]
            ratios = [f"{cpus[0] / c:.2f}" if cpus[0] is not None and c else "–" for c in cpus[1:]]
            print("| … server CPU per request, µs | " + " | ".join(cells + ratios) + " |")
    cells = [f"{rss[s.name]:.0f}" for s in servers]
    print("| peak RSS (VmHWM), MiB | " + " | ".join(cells + ["" for _ in peers]) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["peers", "s3-backend", "workers"], default="peers")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--no-peers", action="store_true", help="peers mode: s3bridge alone")
    parser.add_argument("--client-cpu", help="run wrk under taskset on these CPUs (e.g. 1)")
    parser.add_argument(
        "--store", choices=["moto", "s3bridge"], default="moto", help="s3-backend mode: the store under it"
    )
    parser.add_argument(
        "--figures",
        nargs="+",
        help="only these figures: get4k head put4k list get1m putbig putunsigned putchunked putsigned getbig",
    )
    args = parser.parse_args()
    args.list = True
    with tempfile.TemporaryDirectory(prefix="bench-small-") as tmp:
        root = Path(tmp)
        big = root / "big.bin"
        big.write_bytes(b"")  # sized by run(); small_figures only needs the path's name for labels
        os.truncate(big, args.large_mib * MiB)
        figures = small_figures(args, big)
        if args.mode == "peers":
            bridge = s3bridge(root, "s3bridge")
            nofsync = s3bridge(
                root, "s3bridge-nofsync", f"type: fs\n    root: {root / 'nofsync'}\n    fsync: false\n"
            )
            nofsync.only = {"put4k"}
            servers = [bridge] if args.no_peers else [bridge, nofsync, moto(root), s3rver(root)]
        elif args.mode == "s3-backend":
            store = s3_store(root, args.store)
            store.proc.start()
            yaml = (
                f"type: s3\n    endpoint: {store.proc.url}\n"
                f"    access_key: {store.access_key}\n    secret_key: {store.secret_key}\n"
            )
            store.bucket = "bench-direct"  # the gateway's bucket "bench" lands in the same store
            servers = [s3bridge(root, "s3bridge-s3", yaml), store]
            figures = [f for f in figures if f.key in ("get4k", "putbig", "getbig")]
            args.list = False
        else:
            servers = [s3bridge(root, "s3bridge-w2", workers=2), s3bridge(root, "s3bridge-w1")]
            figures = [f for f in figures if f.key in ("get4k", "head")]
            args.list = False
        if args.figures:
            figures = [f for f in figures if f.key in args.figures]
        run(servers, figures, args, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
