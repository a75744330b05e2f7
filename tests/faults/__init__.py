"""Fault injection with real processes: a scripted flaky S3 proxy, and helpers to break a store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.procs import ServerProcess, free_port, http_ready


def flaky_proxy(
    upstream: str,
    *,
    fail: int = 0,
    code: str = "SlowDown",
    status: int = 503,
    method: str = "",
    log_path: Path | None = None,
    port: int | None = None,
) -> ServerProcess:
    """tests.faults.flaky_proxy as a process in front of ``upstream`` (not started); pass ``port`` to
    bring a killed proxy back where its clients expect it."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "tests.faults.flaky_proxy",
        "--port",
        str(port),
        "--upstream",
        upstream,
        "--fail",
        str(fail),
        "--code",
        code,
        "--status",
        str(status),
        "--method",
        method,
    ]
    return ServerProcess(argv, port, log_path=log_path, ready=http_ready("/__faults__"))


def arm(
    proxy: ServerProcess,
    fail: int,
    *,
    code: str = "SlowDown",
    status: int = 503,
    method: str = "",
    after: bool = False,
) -> None:
    """Make the next ``fail`` requests (of ``method``, if given) fail with ``code``; with ``after``, once
    the store has done them (the answer is lost, the effect is not)."""
    params = {
        "fail": str(fail),
        "code": code,
        "status": str(status),
        "method": method,
        "after": str(int(after)),
    }
    httpx.post(proxy.url + "/__faults__", params=params, timeout=5).raise_for_status()


def counts(proxy: ServerProcess) -> dict[str, int]:
    """How many requests the proxy failed and how many it passed on, so far."""
    data = httpx.get(proxy.url + "/__faults__", timeout=5).json()
    return {"failed": int(data["failed"]), "proxied": int(data["proxied"]), "pending": int(data["fail"])}


def immutable(path: Path | str, on: bool = True) -> None:
    """Make a directory refuse writes even to root (``chattr +i``): these tests run as root, where mode
    bits bind nothing."""
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)
