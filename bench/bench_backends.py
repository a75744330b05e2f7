"""PUT and GET throughput and the gateway's peak RSS for one large object on each provider backend.

    python bench/bench_backends.py [--size-mib 1024] [--emulator-size-mib 256] [--s3-store s3bridge|moto]
                                   [--backends s3 oss obs]

- s3: the gateway's s3 backend (minio-py) on a store process: a second s3bridge on the fs backend by
  default (moto keeps every byte in memory and is slow), or moto's server. The same client also talks
  to that store directly in the same run, and the report gives gateway/direct ratios.
- oss: the oss backend (oss2, OSS v4 signature) on the strict OSS emulator.
- obs: the obs backend (esdk-obs-python, native OBS signature) on the strict OBS emulator.

Each backend gets its own gateway process, so its VmHWM (from /proc when the run is over) is that
backend's peak. The client streams the body from a generator as one PutObject (UNSIGNED-PAYLOAD, so
the client hashes nothing and reads its source once) and hashes the GET while discarding it; the GET is
verified by SHA-256 against what was sent.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.bench_fs import CHUNK, Source, _Sized, current_rss_mib, peak_rss_mib  # noqa: E402
from tests.helpers.procs import ServerProcess, gateway_server, moto_server  # noqa: E402
from tests.helpers.stores import STORE_AK, STORE_SK, store_and_backend  # noqa: E402

MiB = CHUNK
GATEWAY_AK, GATEWAY_SK = "bench", "bench-secret-0123456789"
#: The ceiling the gateway's peak RSS must stay under, whatever the object size.
RSS_LIMIT_MIB = 150.0


@dataclass
class Result:
    label: str
    size_mib: float
    put_mib_s: float
    get_mib_s: float
    baseline_rss_mib: float | None = None
    peak_rss_mib: float | None = None

    def line(self) -> str:
        rss = ""
        if self.peak_rss_mib is not None:
            rss = f", gateway RSS baseline {self.baseline_rss_mib:.1f} MiB, peak (VmHWM) {self.peak_rss_mib:.1f} MiB"
        return (
            f"{self.label:<28} {self.size_mib:>6.0f} MiB: PUT {self.put_mib_s:7.1f} MiB/s, "
            f"GET {self.get_mib_s:7.1f} MiB/s{rss}"
        )


def client(url: str, access_key: str, secret_key: str):  # type: ignore[no-untyped-def]
    config = Config(
        s3={"addressing_style": "path", "payload_signing_enabled": False},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=300,
    )
    return boto3.client(
        "s3", endpoint_url=url, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name="us-east-1", config=config,
    )  # fmt: skip


def put_get(s3, bucket: str, size: int, label: str) -> Result:  # type: ignore[no-untyped-def]
    """One streamed PUT and one streamed GET of ``size`` bytes, timed, the GET checked by SHA-256."""
    body = _Sized(Source(size))
    t0 = time.monotonic()
    s3.put_object(Bucket=bucket, Key="big", Body=body, ContentLength=size)
    put_s = time.monotonic() - t0
    sent = body.src.sha.hexdigest()
    assert body.src.left == 0, "the PUT did not send the whole body"
    t0 = time.monotonic()
    got = hashlib.sha256()
    n = 0
    for chunk in s3.get_object(Bucket=bucket, Key="big")["Body"].iter_chunks(MiB):
        got.update(chunk)
        n += len(chunk)
    get_s = time.monotonic() - t0
    if n != size or got.hexdigest() != sent:
        raise AssertionError(f"{label}: GET returned {n} bytes that differ from the {size} sent")
    s3.delete_object(Bucket=bucket, Key="big")
    return Result(label, size / MiB, size / MiB / put_s, size / MiB / get_s)


def through_gateway(root: Path, label: str, backend_yaml: str, size: int) -> Result:
    config = root / f"gateway-{label}.yaml"
    config.write_text(
        f"credentials:\n  - access_key: {GATEWAY_AK}\n    secret_key: {GATEWAY_SK}\n"
        f"backends:\n  store:\n    {backend_yaml}"
        "logging:\n  level: warning\n  access_log: false\n"
    )
    gateway = gateway_server(config=config, log_path=root / f"gateway-{label}.log")
    gateway.start()
    try:
        assert gateway.proc is not None
        s3 = client(gateway.url, GATEWAY_AK, GATEWAY_SK)
        s3.create_bucket(Bucket="bench-via")
        baseline = current_rss_mib(gateway.proc.pid)
        result = put_get(s3, "bench-via", size, f"{label} via gateway")
        result.baseline_rss_mib = baseline
        result.peak_rss_mib = peak_rss_mib(gateway.proc.pid)
        return result
    except Exception:
        print(gateway.log_text(), file=sys.stderr)
        raise
    finally:
        gateway.stop()


def s3_store(root: Path, kind: str) -> ServerProcess:
    if kind == "moto":
        return moto_server(log_path=root / "store.log").start()
    store = gateway_server(
        data_dir=root / "store-data", access_key=STORE_AK, secret_key=STORE_SK, log_path=root / "store.log"
    )
    return store.start()


def bench_s3(root: Path, size: int, store_kind: str) -> list[Result]:
    store = s3_store(root, store_kind)
    try:
        direct_client = client(store.url, STORE_AK, STORE_SK)
        direct_client.create_bucket(Bucket="bench")
        direct = put_get(direct_client, "bench", size, f"s3 direct ({store_kind})")
        backend_yaml = (
            f"type: s3\n    endpoint: {store.url}\n    access_key: {STORE_AK}\n    secret_key: {STORE_SK}\n"
        )
        via = through_gateway(root, f"s3 ({store_kind})", backend_yaml, size)
        return [direct, via]
    finally:
        store.stop()


def bench_emulated(root: Path, kind: str, size: int) -> list[Result]:
    """oss (v4) or obs (native) on its emulator, with the store options the e2e tests use."""
    sub = root / kind
    sub.mkdir()
    store, backend_yaml = store_and_backend({"oss": "oss-v4", "obs": "obs"}[kind], sub)
    try:
        return [through_gateway(sub, f"{kind} (emulator)", backend_yaml, size)]
    finally:
        store.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="object size for the s3 backend")
    parser.add_argument("--emulator-size-mib", type=int, default=256, help="object size for oss and obs")
    parser.add_argument("--s3-store", choices=["s3bridge", "moto"], default="s3bridge")
    parser.add_argument("--backends", nargs="+", choices=["s3", "oss", "obs"], default=["s3", "oss", "obs"])
    args = parser.parse_args()
    runs: dict[str, Callable[[Path], list[Result]]] = {
        "s3": lambda root: bench_s3(root, args.size_mib * MiB, args.s3_store),
        "oss": lambda root: bench_emulated(root, "oss", args.emulator_size_mib * MiB),
        "obs": lambda root: bench_emulated(root, "obs", args.emulator_size_mib * MiB),
    }
    over = []
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        for name in args.backends:
            results = runs[name](Path(tmp))
            for r in results:
                print(r.line(), flush=True)
                if r.peak_rss_mib is not None and r.peak_rss_mib >= RSS_LIMIT_MIB:
                    over.append(r.label)
            if name == "s3":
                direct, via = results
                print(
                    f"{'s3 gateway/direct':<28} {'':>10}  PUT {via.put_mib_s / direct.put_mib_s:7.2f}x,"
                    f"       GET {via.get_mib_s / direct.get_mib_s:7.2f}x",
                    flush=True,
                )
    if over:
        print(f"peak RSS at or over {RSS_LIMIT_MIB:.0f} MiB: {', '.join(over)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
