"""Large bodies and peak memory, one gateway checkout against another in the same run (issue 15).

    python3 bench/bench_large.py [--repo DIR ...] [--rounds 2] [--large-mib 256] [--figures ...]
        [--connections 16 256] [--profile DIR]

Each ``--repo`` (default: this checkout; give a ``git archive`` of the base as another) is served as its
own ``s3bridge serve`` process with default settings (fs backend, fsync on), and every figure runs on
each in turn, round after round, so a noisy neighbour on the shared machine hits them alike. Wall-clock
rates are printed but are noise on a busy machine; the figures to read are the server's CPU per request
(user + system of its process, from /proc) and its peak RSS during that figure alone: ``VmHWM`` is reset
before each figure (``/proc/<pid>/clear_refs``, value 5) and read after it, so the table says which
figure makes the peak, not only that there was one.

Figures: ``get1m`` (GET 1 MiB with wrk, once per ``--connections`` value), ``getbig`` (GET of the large
object over 2 concurrent curl streams), ``putbig`` (one PUT signed with the body's SHA-256, plus
Content-MD5), ``putunsigned`` (UNSIGNED-PAYLOAD + Content-MD5), ``putchunked`` (aws-chunked with a CRC32
trailer). ``--profile DIR`` records a py-spy flame graph (svg) of each figure on each server. Every load
is bounded (wrk stops itself, curl has a timeout) and every process started here is stopped by its pid.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_small  # noqa: E402  (bench/ is the script's directory)
import largebodies  # noqa: E402
import loadgen  # noqa: E402

from tests.helpers.procs import ServerProcess, free_port, http_ready  # noqa: E402

MiB = 2**20
HERE = Path(__file__).resolve().parent
PY_SPY = Path(sys.executable).with_name("py-spy")
ACCESS, SECRET = "bench", "bench-secret-0123456789"


@dataclass
class Gateway:
    name: str
    proc: ServerProcess
    get_mid: str = ""
    get_big: str = ""
    put_url: str = ""
    uploads: dict[str, largebodies.Upload] | None = None

    @property
    def pid(self) -> int:
        if self.proc.proc is None:
            raise RuntimeError("not started")
        return self.proc.proc.pid


def start(repo: Path, name: str, root: Path) -> Gateway:
    """``s3bridge serve`` from ``repo``'s code, default settings, on a fresh data directory."""
    port = free_port()
    argv = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--data-dir", str(root / name)]
    env = {"S3BRIDGE_ACCESS_KEY": ACCESS, "S3BRIDGE_SECRET_KEY": SECRET, "PYTHONPATH": str(repo)}
    proc = ServerProcess(argv, port, env=env, cwd=repo, log_path=root / f"{name}.log", ready=http_ready("/"))
    return Gateway(name, proc.start())


def reset_peak(pid: int) -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM to the current RSS)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Sample:
    mib_s: float
    cpu_us: float
    peak_mib: float


def figures(args: argparse.Namespace, big: Path) -> dict[str, Callable[[Gateway], tuple[float, float]]]:
    """Each figure: run it against a gateway, answer (MiB/s, server CPU µs per request)."""
    size = big.stat().st_size

    def get1m(connections: int) -> Callable[[Gateway], tuple[float, float]]:
        def run(gw: Gateway) -> tuple[float, float]:
            load = loadgen.wrk(
                gw.proc.url, "GET", [gw.get_mid], server_pid=gw.pid, connections=connections,
                seconds=args.seconds,
            )  # fmt: skip
            if load.errors:  # past server.max_in_flight (128) the gateway answers 503 SlowDown
                print(
                    f"  ({gw.name}: {load.errors} of {load.requests} GETs refused, not counted)", flush=True
                )
                load.requests -= load.errors
            return load.per_s, load.cpu_us_per_request

        return run

    def getbig(gw: Gateway) -> tuple[float, float]:
        url = gw.proc.url + gw.get_big
        t = loadgen.curl_get([url, url], size, gw.pid)
        return t.mib_s, t.cpu_s * 1e6 / 2

    def put(variant: str) -> Callable[[Gateway], tuple[float, float]]:
        def run(gw: Gateway) -> tuple[float, float]:
            assert gw.uploads is not None
            way = gw.uploads[variant]
            t = loadgen.curl_put(gw.put_url, way.path, way.headers, gw.pid)
            wall = way.path.stat().st_size / MiB / t.mib_s
            return size / MiB / wall, t.cpu_s * 1e6

        return run

    out: dict[str, Callable[[Gateway], tuple[float, float]]] = {}
    for c in args.connections:
        out[f"get1m-c{c}"] = get1m(c)
    out.update(getbig=getbig, putbig=put("sha256"), putunsigned=put("unsigned"), putchunked=put("chunked"))
    return {k: v for k, v in out.items() if k.split("-")[0] in args.figures}


def prepare(gw: Gateway, big: Path, sha: str, md5: str) -> None:
    server = bench_small.Server(gw.name, gw.proc, ACCESS, SECRET)
    s3 = server.client()
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="mid", Body=os.urandom(MiB))
    gw.put_url = f"{gw.proc.url}/bench/big"
    gw.uploads = largebodies.uploads(gw.put_url, big, sha, md5, ACCESS, SECRET, tag=gw.name, chunked=True)
    with open(big, "rb") as f:
        s3.put_object(Bucket="bench", Key="big", Body=f)

    def presign(key: str) -> str:
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": key}, ExpiresIn=7200)
        return url[len(gw.proc.url) :]

    gw.get_mid, gw.get_big = presign("mid"), presign("big")


def profiled(args: argparse.Namespace, gw: Gateway, name: str, rnd: int) -> subprocess.Popen[bytes] | None:
    if not args.profile:
        return None
    out = Path(args.profile) / f"{name}-{gw.name}-r{rnd}.svg"
    return subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(gw.pid), "--threads", "--rate", "250", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", action="append", help="a checkout to serve (repeat; default: this one)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 256])
    parser.add_argument(
        "--figures", nargs="+", default=["get1m", "getbig", "putbig", "putunsigned", "putchunked"]
    )
    parser.add_argument("--profile", help="directory for py-spy flame graphs, one per figure and server")
    args = parser.parse_args()
    repos = [Path(r).resolve() for r in (args.repo or [HERE.parent])]
    results: dict[tuple[str, str], list[Sample]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        root = Path(tmp)
        big, sha, md5 = bench_small.big_file(root, args.large_mib * MiB)
        figs = figures(args, big)
        gateways: list[Gateway] = []
        try:
            for i, repo in enumerate(repos):
                gateways.append(start(repo, f"{i}-{repo.name}", root))
            for gw in gateways:
                prepare(gw, big, sha, md5)
            for rnd in range(args.rounds):
                order = gateways[rnd % len(gateways) :] + gateways[: rnd % len(gateways)]
                for name, run in figs.items():
                    for gw in order:
                        reset_peak(gw.pid)
                        spy = profiled(args, gw, name, rnd)
                        try:
                            rate, cpu = run(gw)
                        finally:
                            if spy is not None:
                                spy.send_signal(2)
                                spy.wait(timeout=60)
                        sample = Sample(rate, cpu, rss_mib(gw.pid, "VmHWM"))
                        results.setdefault((name, gw.name), []).append(sample)
                        print(
                            f"round {rnd + 1} {name:<12} {gw.name:<24} {rate:9.1f}/s "
                            f"{cpu:11.0f} µs CPU/req  peak {sample.peak_mib:5.0f} MiB",
                            flush=True,
                        )
        finally:
            for gw in gateways:
                gw.proc.stop()
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print(
        "| figure (median) | "
        + " | ".join(f"{gw.name}: rate, CPU µs/req, peak MiB" for gw in gateways)
        + " |"
    )
    print("|---|" + "---|" * len(gateways))
    for name in figs:
        cells = []
        for gw in gateways:
            s = results.get((name, gw.name), [])
            if not s:
                cells.append("–")
                continue
            rate = statistics.median(x.mib_s for x in s)
            cpu = statistics.median(x.cpu_us for x in s)
            peak = max(x.peak_mib for x in s)
            cells.append(f"{rate:,.0f}, {cpu:,.0f}, {peak:.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
