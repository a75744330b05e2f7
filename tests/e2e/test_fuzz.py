"""A raw-HTTP fuzzer against the real gateway process on the fs backend (issue 16).

Seeded (``S3BRIDGE_FUZZ_SEED``, default fixed) and bounded: ``S3BRIDGE_FUZZ_COUNT`` requests (3000 by
default) or ``S3BRIDGE_FUZZ_SECONDS`` (60), whichever ends first. Requests come from tests/e2e/fuzzgen.py.
Every answer must be: no 5xx but 503 SlowDown (and 501 NotImplemented, S3's answer for what the
gateway deliberately refuses); every error with a body an S3 XML error document with a
Code and a RequestId; never the contents of a file outside the store. At the end the log holds no
traceback, the process is alive, and its RSS is back near the baseline taken after a warm-up.

A failure names the seed and the request number; ``S3BRIDGE_FUZZ_SEED=<seed>`` replays the run.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import yaml

from tests.helpers.fuzzgen import FuzzRequest, Generator
from tests.helpers.procs import ServerProcess, gateway_server
from tests.helpers.rawhttp import Answer, client_for, read_response, rss_kib

PAIR = ("fuzz-ak", "fuzz-sk-0123456789abcdef")
BUCKET = "fuzz"
SEED = int(os.environ.get("S3BRIDGE_FUZZ_SEED", "20261202"))
COUNT = int(os.environ.get("S3BRIDGE_FUZZ_COUNT", "3000"))
SECONDS = float(os.environ.get("S3BRIDGE_FUZZ_SECONDS", "60"))
WARMUP = 200
#: Concurrent senders after the warm-up, each with its own generator seeded from SEED.
WORKERS = 4
#: RSS growth over the post-warm-up baseline accepted at the end (KiB).
RSS_SLACK_KIB = 40 * 1024


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("fuzz")
    config = {
        "server": {"header_timeout": 3, "body_idle_timeout": 3},
        "credentials": [{"access_key": PAIR[0], "secret_key": PAIR[1]}],
        "backends": {"local": {"type": "fs", "root": str(base / "data"), "fsync": False}},
    }
    (base / "gateway.yaml").write_text(yaml.safe_dump(config))
    server = gateway_server(config=base / "gateway.yaml", log_path=base / "gateway.log").start()
    yield server
    server.stop()


def send(server: ServerProcess, req: FuzzRequest) -> Answer | None:
    """Send one request on a fresh connection; its answer, or None if the gateway closed without one
    (allowed only where the request left the gateway waiting for body bytes that never come)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        try:
            sock.sendall(req.wire())
            if req.short_body:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # answered and closed before the whole request went out: read what came back
        try:
            return read_response(sock, head=req.method == "HEAD")
        except (ConnectionError, TimeoutError):
            return None


def problems(req: FuzzRequest, answer: Answer | None) -> list[str]:
    if answer is None:
        return [] if req.short_body else ["no answer"]
    found = []
    code = answer.error_code()
    head = req.method == "HEAD"  # (a HEAD answer has no body to name its code)
    # 503 SlowDown is load shedding; 501 NotImplemented is S3's designed answer for an operation or
    # header the gateway refuses (issue 16, fault 0). Any other 5xx is a fault.
    allowed = {503: "SlowDown", 501: "NotImplemented"}
    if answer.status >= 500 and (
        answer.status not in allowed or (not head and code != allowed[answer.status])
    ):
        found.append(f"status {answer.status} {code}")
    if answer.status >= 400 and not head and code is None:
        found.append(f"{answer.status} without an S3 error document: {answer.body[:200]!r}")
    if b"root:x:0:0" in answer.body:
        found.append("file contents leaked")
    return found


def test_fuzz_raw_http(gateway: ServerProcess) -> None:
    client = client_for(gateway, PAIR)
    client.create_bucket(Bucket=BUCKET)
    for key in ("a", "dir/file.txt", "plus+sign"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"fuzz target " + key.encode())
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key="a")["UploadId"]
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    started = time.monotonic()

    def run(worker: int, count: int) -> None:
        gen = Generator(random.Random(SEED * 100 + worker), gateway.url, PAIR, BUCKET, upload_id)
        for n in range(count):
            if time.monotonic() - started > SECONDS or len(failures) > 20:
                return
            try:
                req = gen.request()
            except Exception as exc:  # a generator bug must fail the test, not end a thread quietly
                failures.append(f"worker {worker} #{n}: the generator failed: {exc!r}")
                return
            answer = send(gateway, req)
            with lock:
                statuses[answer.status if answer else 0] += 1
            for problem in problems(req, answer):
                failures.append(
                    f"worker {worker} #{n} {' '.join(req.labels)}: {problem}; {req.wire()[:300]!r}"
                )

    run(0, WARMUP)  # one worker first, then the baseline, then all of them at once
    time.sleep(1.5)
    baseline = rss_kib(gateway)
    threads = [
        threading.Thread(target=run, args=(w, (COUNT - WARMUP) // WORKERS)) for w in range(1, WORKERS + 1)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = sum(statuses.values())
    assert gateway.proc is not None and gateway.proc.poll() is None, "the gateway died"
    assert not failures, f"seed {SEED}: {len(failures)} bad answers:\n" + "\n".join(failures[:20])
    # Enough of the requests reached the handlers, not just the auth checks.
    assert sum(v for k, v in statuses.items() if 200 <= k < 300) > sent // 20, statuses
    time.sleep(2.5)  # idle past the heap trim
    client.head_bucket(Bucket=BUCKET)
    log = gateway.log_text()
    assert "Traceback" not in log, log[-3000:]
    grown = rss_kib(gateway) - baseline
    assert grown < RSS_SLACK_KIB, f"RSS grew {grown} KiB over the baseline after {sent} requests"
    print(
        f"fuzz: seed {SEED}, {sent} requests in {time.monotonic() - started:.1f}s, statuses {dict(statuses)}"
    )
