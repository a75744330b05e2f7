"""PUT and GET one large object through the gateway on the filesystem backend; report throughput and
the gateway process's peak RSS (VmHWM). Usage: python bench/bench_fs.py [--size-mib 1024]

The client streams from a generator and discards what it reads, so the client's memory does not count;
the gateway runs as its own process, and its peak RSS is read from /proc when the run is over.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.helpers.procs import gateway_server  # noqa: E402

CHUNK = 1024 * 1024


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def current_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Source:
    """A readable file-like of ``size`` pseudo-random bytes made on the fly, hashing what it hands out."""

    def __init__(self, size: int):
        self.size = size
        self.left = size
        self.block = hashlib.sha256(b"seed").digest() * (CHUNK // 32)
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = (self.block * (n // len(self.block) + 1))[:n]
        self.left -= n
        self.sha.update(out)
        return out


def run(size: int, workers_note: str = "") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = gateway_server(
            data_dir=Path(tmp) / "data", access_key="bench", secret_key="bench-secret-0123"
        )
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        try:
            client = boto3.client(
                "s3", endpoint_url=server.url, aws_access_key_id="bench", aws_secret_access_key="bench-secret-0123",
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                              response_checksum_validation="when_required"),
            )  # fmt: skip
            client.create_bucket(Bucket="bench")
            baseline = current_rss_mib(pid)
            src = Source(size)
            t0 = time.monotonic()
            # one single PUT of the whole object, streamed (UNSIGNED-PAYLOAD would need https; sign the body hash
            # by letting boto3 stream a file-like with a known length)
            sized = _Sized(src)
            client.put_object(Bucket="bench", Key="big", Body=sized, ContentLength=size)
            put_s = time.monotonic() - t0
            t0 = time.monotonic()
            body = client.get_object(Bucket="bench", Key="big")["Body"]
            got = hashlib.sha256()
            for chunk in body.iter_chunks(CHUNK):
                got.update(chunk)
            get_s = time.monotonic() - t0
            assert got.hexdigest() == sized.src.sha.hexdigest(), "GET returned different bytes"
            return {
                "size_mib": size / CHUNK,
                "put_mib_s": size / CHUNK / put_s,
                "get_mib_s": size / CHUNK / get_s,
                "baseline_rss_mib": baseline,
                "peak_rss_mib": peak_rss_mib(pid),
            }
        finally:
            server.stop()


class _Sized:
    """File-like wrapper botocore can seek back to the start (it hashes the body before sending)."""

    def __init__(self, src: Source):
        self.src = src
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        out = self.src.read(n)
        self.pos += len(out)
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0 and offset == 0:
            self.src = Source(self.src.size)
            self.pos = 0
            return 0
        if whence == 2:
            return self.src.size
        return self.pos

    def tell(self) -> int:
        return self.pos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, nargs="+", default=[256, 1024])
    args = parser.parse_args()
    for mib in args.size_mib:
        r = run(mib * CHUNK)
        print(
            f"size {r['size_mib']:.0f} MiB: PUT {r['put_mib_s']:.1f} MiB/s, GET {r['get_mib_s']:.1f} MiB/s, "
            f"gateway RSS baseline {r['baseline_rss_mib']:.1f} MiB, peak {r['peak_rss_mib']:.1f} MiB"
        )


if __name__ == "__main__":
    main()
