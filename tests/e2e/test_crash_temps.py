"""Temporaries of a gateway killed mid-upload are reclaimed by the next start on the same root, while a
live gateway sharing that root keeps its own (issue 16, fault 3).

Two gateways serve one fs root, as ``--workers 2`` or two replicas would. Each has a PUT half sent, so
each has a temp file on disk. One is SIGKILLed; a third gateway starts on the root: the dead one's
temporaries are gone at once, the live one's survive and its upload completes.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.helpers.procs import ServerProcess, gateway_server
from tests.helpers.rawhttp import client_for, connect, head_block, read_response, sign

PAIR = ("crash-ak", "crash-sk-0123456789abcdef")
MiB = 1024 * 1024
SIZE = 8 * MiB


def start(root: Path, log: Path) -> ServerProcess:
    return gateway_server(data_dir=root, access_key=PAIR[0], secret_key=PAIR[1], log_path=log).start()


def temporaries(root: Path) -> set[Path]:
    """Every file under the temp area but the per-process lock files."""
    return {p for p in (root / ".s3bridge" / "tmp").rglob("*") if p.is_file() and p.name != ".lock"}


def half_put(server: ServerProcess, key: str) -> socket.socket:
    """A signed PUT of SIZE bytes with only the first half sent (the fs backend writes it out in 1 MiB
    batches, so a temp file holds it)."""
    target = f"/crash/{key}"
    headers = sign(server.url, "PUT", target, PAIR, {"Content-Length": str(SIZE)})
    sock = connect(server.port)
    sock.sendall(head_block("PUT", target, headers) + b"x" * (SIZE // 2))
    return sock


def wait_for_new(root: Path, before: set[Path], timeout: float = 10.0) -> set[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = {p for p in temporaries(root) - before if p.exists() and p.stat().st_size > 0}
        if new:
            return new
        time.sleep(0.05)
    pytest.fail("no temp file appeared for a half-sent PUT")


def test_dead_gateways_temporaries_go_live_ones_stay(tmp_path: Path) -> None:
    root = tmp_path / "data"
    victim = start(root, tmp_path / "victim.log")
    live = start(root, tmp_path / "live.log")
    third: ServerProcess | None = None
    try:
        s3 = client_for(live, PAIR)
        s3.create_bucket(Bucket="crash")
        doomed_sock = half_put(victim, "doomed")
        doomed = wait_for_new(root, set())
        live_sock = half_put(live, "survivor")
        survivors = wait_for_new(root, doomed)
        victim.kill()
        doomed_sock.close()
        assert all(p.exists() for p in doomed)  # nobody cleans up after a SIGKILL but the next start

        third = start(root, tmp_path / "third.log")
        assert not any(p.exists() for p in doomed), "a dead gateway's temporaries outlived the next start"
        assert all(p.exists() for p in survivors), "a live gateway's temporaries were removed"
        assert not any(p.parent.exists() for p in doomed), "the dead gateway's temp directory stayed"

        live_sock.sendall(b"x" * (SIZE // 2))
        answer = read_response(live_sock)
        live_sock.close()
        assert answer.status == 200, answer.body
        assert s3.head_object(Bucket="crash", Key="survivor")["ContentLength"] == SIZE
        assert not any(o["Key"] == "doomed" for o in s3.list_objects_v2(Bucket="crash").get("Contents", []))
    finally:
        for server in (victim, live, third):
            if server is not None:
                server.stop()
    # every process gone cleanly or not: nothing of anyone is left once the next one starts and stops
    last = start(root, tmp_path / "last.log")
    last.stop()
    assert temporaries(root) == set()
