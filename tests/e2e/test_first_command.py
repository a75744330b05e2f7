"""The README's first command, run verbatim as a new user would: in a fresh copy of the checkout, with
the system's externally managed ``python3`` (PEP 668) first on PATH where the machine has one, so a
system-wide ``pip install`` would be refused. ``./s3bridge`` must make its own virtual environment,
install into it and serve; boto3 then stores and reads an object through it.

The second case puts first on PATH a ``python3`` whose ``-m venv`` fails for want of ``ensurepip``, as
on a fresh Debian or Ubuntu without ``python3-venv``: the launcher must then bring pip in from PyPI. Both install from the package index, so they are slow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from backends.fs.keys import key_components
from gateway.observability import LIVE_PATH
from tests.helpers.clients import boto3_client
from tests.helpers.procs import REPO, ServerProcess, free_port

pytestmark = pytest.mark.slow

#: How long a first run may take to make its environment and install every dependency.
INSTALL_TIMEOUT = 900.0


def readme_first_command() -> str:
    """The first ``bash`` block of README.md: one command."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block is not None, "README.md has no bash block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, f"the first command is one line, not {lines}"
    return lines[0]


def copy_checkout(dest: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked and new, never .venv, data or caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        src = REPO / os.fsdecode(raw)
        if src.is_file():
            target = dest / os.fsdecode(raw)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def system_python_dir() -> str | None:
    """The directory of an externally managed python3 (Debian's /usr/bin/python3), if any."""
    for python in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if not os.access(python, os.X_OK):
            continue
        stdlib = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if (Path(stdlib) / "EXTERNALLY-MANAGED").is_file():
            return str(Path(python).parent)
    return None


def without_ensurepip(where: Path, python: str) -> Path:
    """A directory holding a ``python3`` that behaves as Debian's does without python3-venv: ``-m venv``
    fails saying ensurepip is not available (``--without-pip`` works); anything else is ``python``."""
    where.mkdir(parents=True)
    wrapper = where / "python3"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -m ] && [ "$2" = venv ] && [ "$3" != --without-pip ]; then\n'
        "  echo 'The virtual environment was not created successfully because ensurepip is not available.' >&2\n"
        "  exit 1\n"
        "fi\n"
        f'exec {python} "$@"\n'
    )
    wrapper.chmod(0o755)
    return where


def first_run(tmp_path: Path, ensurepip: bool) -> ServerProcess:
    """The README's first command in a fresh copy of the checkout, as a server not yet started."""
    checkout = copy_checkout(tmp_path / "s3bridge")
    port = free_port()
    command = f"{readme_first_command()} --port {port}"  # loopback tests need a free port, not 8080
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    python_dir = system_python_dir()
    if python_dir is not None:
        env["PATH"] = f"{python_dir}:{env['PATH']}"
        stdlib = subprocess.run(
            ["python3", "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert (Path(stdlib) / "EXTERNALLY-MANAGED").is_file(), "python3 on PATH is not the system's"
    if not ensurepip:
        real = shutil.which("python3", path=env["PATH"])
        assert real is not None
        env["PATH"] = f"{without_ensurepip(tmp_path / 'no-ensurepip', real)}:{env['PATH']}"
    server = ServerProcess(
        ["bash", "-c", command],  # bash runs a lone command with exec: the pid is the server
        port,
        cwd=checkout,
        log_path=tmp_path / "first-run.log",
        ready=lambda s: httpx.get(s.url + LIVE_PATH, timeout=1).status_code == 200,
    )
    server.env = env  # the whole environment of the command, not added to this process's
    return server


def check_serves(server: ServerProcess, ensurepip: bool) -> None:
    """boto3 stores and reads an object through the first run; it lands under ./data of the checkout."""
    s3 = boto3_client(server.url, ("admin", "change-me-please"))
    s3.create_bucket(Bucket="first-command")
    body = os.urandom(70_000)
    s3.put_object(Bucket="first-command", Key="dir/hello.bin", Body=body)
    assert s3.get_object(Bucket="first-command", Key="dir/hello.bin")["Body"].read() == body
    stored = server.cwd.joinpath("data", "first-command", *key_components("dir/hello.bin"))
    assert stored.read_bytes()[: len(body)] == body  # the fs backend's file: data, then its metadata
    venv_python = server.cwd / ".venv" / "bin" / "python"
    assert venv_python.exists(), "the command made no .venv in the checkout"
    pip = subprocess.run(
        [str(venv_python), "-m", "pip", "--version"], capture_output=True, text=True, check=True
    )
    assert str(server.cwd / ".venv") in pip.stdout
    assert server.log_path is not None
    log = server.log_path.read_text(errors="replace")  # whole: the launcher speaks first
    assert ("fetching pip's wheel" in log) is (not ensurepip), log


def test_readme_first_command_serves(tmp_path: Path) -> None:
    """Both first runs at once (the installs wait on the package index, not on the CPU)."""
    cases = {True: first_run(tmp_path / "with-ensurepip", True), False: first_run(tmp_path / "bare", False)}
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(2) as pool:
            for started_server in pool.map(lambda s: s.start(timeout=INSTALL_TIMEOUT), cases.values()):
                assert started_server.proc is not None
        print(f"first runs ready in {time.monotonic() - started:.1f}s")
        for ensurepip, server in cases.items():
            check_serves(server, ensurepip)
    finally:
        for server in cases.values():
            server.stop()
