"""The OBS streaming use case through s3bridge (native OBS signature, strict OBS emulator).

A large upload survives the gateway's death: multipart state lives in OBS, so a new gateway process finds
the upload with ListMultipartUploads, lists its parts, sends only the missing ones and completes. And a
stream of unknown total size goes up through boto3's concurrent multipart transfer without the gateway
writing anything to local disk (it has no fs backend; parts stream through to OBS).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.faults import KillingBody
from tests.helpers.procs import ServerProcess, gateway_server
from tests.helpers.stores import store_and_backend

MiB = 1024 * 1024
PART = 8 * MiB
TOTAL = 64 * MiB


def _part(number: int) -> bytes:
    """Part ``number`` of the 64 MiB object, the same in every process and run."""
    return random.Random(number).randbytes(PART)


@pytest.fixture
def obs_store(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """The OBS emulator and a gateway config whose only backend is obs (native signature)."""
    store, backend_yaml = store_and_backend("obs", tmp_path)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"credentials:\n  - access_key: {ACCESS_KEY}\n    secret_key: {SECRET_KEY}\n"
        f"backends:\n  huawei:\n    {backend_yaml}"
    )
    try:
        yield store, config
    finally:
        store.stop()


def _gateway(
    config: Path, log: Path, port: int | None = None, env: dict[str, str] | None = None
) -> ServerProcess:
    return gateway_server(port, config=config, log_path=log, env=env).start()


def test_multipart_resumes_after_gateway_sigkill(
    obs_store: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    _, config = obs_store
    first = _gateway(config, tmp_path / "gateway1.log")
    bucket, key = f"resume-{uuid.uuid4().hex[:8]}", "datasets/shard-0001.bin"
    try:
        s3 = make_client(first.url)
        s3.create_bucket(Bucket=bucket)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        done = {n: s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=_part(n))["ETag"]
                for n in (1, 2, 3, 5)}  # fmt: skip
        # Part 4 is on the wire when the gateway dies.
        cut = KillingBody(PART, first, kill_at=PART // 2)
        with pytest.raises(botocore.exceptions.BotoCoreError):
            s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=4, Body=cut, ContentLength=PART
            )
        assert cut.killed.is_set() and first.proc is not None and first.proc.returncode == -9
    finally:
        first.stop()

    second = _gateway(config, tmp_path / "gateway2.log", port=first.port)
    try:
        s3 = make_client(second.url)
        uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="datasets/")["Uploads"]
        assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, upload_id)]
        listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
        have = {p["PartNumber"]: p for p in listed}
        assert sorted(have) == [1, 2, 3, 5], "only whole parts survive; the cut part 4 is not there"
        for n, part in have.items():
            assert part["Size"] == PART and part["ETag"] == done[n]
            assert part["ETag"].strip('"') == hashlib.md5(_part(n)).hexdigest()
        etags = {n: p["ETag"] for n, p in have.items()}
        for n in range(1, TOTAL // PART + 1):
            if n not in etags:
                etags[n] = s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=_part(n)
                )["ETag"]
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(etags.items())]},
        )  # fmt: skip
        assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
        want = hashlib.sha256()
        for n in sorted(etags):
            want.update(_part(n))
        got = hashlib.sha256()
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(MiB):
            got.update(chunk)
        assert got.hexdigest() == want.hexdigest()
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == TOTAL
        for log in (tmp_path / "gateway1.log", tmp_path / "gateway2.log"):
            assert "Traceback" not in log.read_text(errors="replace")
    finally:
        second.stop()


class GeneratorStream:
    """A read-only, non-seekable file object over a generator: the total size is known to nobody."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = b""
        self.sha = hashlib.sha256()
        self.size = 0
        self._lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        with self._lock:
            out = [self._pending]
            have = len(self._pending)
            while n < 0 or have < n:
                piece = next(self._chunks, b"")
                if not piece:
                    break
                out.append(piece)
                have += len(piece)
            data = b"".join(out)
            if n >= 0:
                data, self._pending = data[:n], data[n:]
            else:
                self._pending = b""
            self.sha.update(data)
            self.size += len(data)
            return data


def _http_stream(total: int, seed: int) -> Iterator[bytes]:
    """Irregular pieces, as an HTTP download hands them out."""
    rng = random.Random(seed)
    left = total
    while left:
        n = min(left, rng.randint(1, 300_000))
        left -= n
        yield rng.randbytes(n)


def _disk_writes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes")


def test_unknown_size_stream_with_concurrent_parts(
    obs_store: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    store, config = obs_store
    scratch = tmp_path / "gateway-tmp"
    scratch.mkdir()
    gateway = _gateway(config, tmp_path / "gateway.log", env={"TMPDIR": str(scratch)})
    try:
        assert gateway.proc is not None
        s3 = make_client(gateway.url, max_pool_connections=8)
        bucket = f"stream-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        total = 75 * MiB + 12_345  # not a whole number of parts
        stream = GeneratorStream(_http_stream(total, seed=3))
        before = _disk_writes(gateway.proc.pid)
        started = time.monotonic()
        s3.upload_fileobj(
            stream, bucket, "from-http/shard.tar",
            Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4),
        )  # fmt: skip
        elapsed = time.monotonic() - started
        written = _disk_writes(gateway.proc.pid) - before
        assert stream.size == total
        assert written < MiB, f"the gateway wrote {written} bytes to disk"
        assert list(scratch.iterdir()) == []
        head = s3.head_object(Bucket=bucket, Key="from-http/shard.tar")
        assert head["ContentLength"] == total and head["ETag"].endswith(f'-{-(-total // PART)}"')
        got = hashlib.sha256()
        for chunk in s3.get_object(Bucket=bucket, Key="from-http/shard.tar")["Body"].iter_chunks(MiB):
            got.update(chunk)
        assert got.hexdigest() == stream.sha.hexdigest()
        assert "Traceback" not in (tmp_path / "gateway.log").read_text(errors="replace")
        assert elapsed < 60
    finally:
        gateway.stop()
