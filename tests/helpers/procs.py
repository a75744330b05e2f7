"""Starting and stopping real server processes on loopback for the tests.

Every test server (the gateway itself, moto's S3 server, the OSS and OBS emulators) runs as a child
process on a free 127.0.0.1 port and is stopped by its process id, whatever the test did.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A child process serving HTTP on 127.0.0.1:port; ``stop()`` ends it by its pid."""

    def __init__(
        self,
        argv: Sequence[str],
        port: int,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        scheme: str = "http",
        ready: Callable[[ServerProcess], bool] | None = None,
    ):
        self.argv = list(argv)
        self.port = port
        self.scheme = scheme
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd or REPO
        self.log_path = log_path
        self._ready = ready
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        out: int | IO[bytes] = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            out = self._log
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.argv[:3]} exited with {self.proc.returncode}; log: {self.log_text()}"
                )
            if self._is_ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.argv[:3]} did not become ready in {timeout}s; log: {self.log_text()}")

    def _is_ready(self) -> bool:
        if self._ready is not None:
            try:
                return self._ready(self)
            except Exception:
                return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-4000:]

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """Kill at once (SIGKILL): a store vanishing mid-request."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running(server: ServerProcess) -> Iterator[ServerProcess]:
    """Start ``server`` for a fixture to yield from; it is stopped however the tests ended."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def http_ready(path: str = "/") -> Callable[[ServerProcess], bool]:
    """Ready once any HTTP answer comes back on ``path`` (TLS certificates are not checked here)."""

    def check(server: ServerProcess) -> bool:
        httpx.get(server.url + path, timeout=0.5, verify=False)
        return True

    return check


def moto_server(port: int | None = None, log_path: Path | None = None) -> ServerProcess:
    """moto's S3 server on loopback (``moto[server]``); it does not check signatures."""
    port = port or free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return ServerProcess(argv, port, log_path=log_path, ready=http_ready("/moto-api/"))


def gateway_server(
    port: int | None = None,
    *,
    data_dir: Path | None = None,
    config: Path | None = None,
    access_key: str = "test-access-key",
    secret_key: str = "test-secret-key-0123456789",
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    scheme: str = "http",
) -> ServerProcess:
    """``s3bridge serve`` as a real process (module entry point, so no install step is assumed)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if config is not None:
        argv += ["--config", str(config)]
    argv += list(extra_args)
    environ = {"S3BRIDGE_ACCESS_KEY": access_key, "S3BRIDGE_SECRET_KEY": secret_key, **(env or {})}
    return ServerProcess(argv, port, env=environ, log_path=log_path, scheme=scheme, ready=http_ready("/"))
