"""Load from outside the server process, and what the server spent on it, for the benchmarks.

wrk drives small requests over keep-alive connections (a Lua script rotates presigned paths, so the
client does no signing), curl moves large bodies, and ``/proc`` says how much CPU a server process and
its children used and their peak RSS. Nothing here knows S3: it is given URLs and headers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    errors: int
    #: Server CPU seconds (user + system, its process tree) during the run.
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("nan")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of its supervisor)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children, from /proc/<pid>/stat (utime, stime)."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def peak_rss_mib(pid: int) -> float:
    """The largest VmHWM in ``pid``'s process tree, MiB."""
    best = 0.0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return best


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(method: str, paths: list[str], body_size: int = 0) -> str:
    """A wrk Lua script sending ``method`` to each of ``paths`` in turn, with a body of ``body_size``."""
    body = f'string.rep("x", {body_size})' if body_size else "nil"
    return (
        f"local paths = {{{', '.join(_lua_string(p) for p in paths)}}}\n"
        f"local body = {body}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        f"  return wrk.format({_lua_string(method)}, paths[i], nil, body)\n"
        "end\n"
    )


_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(
    base_url: str,
    method: str,
    paths: list[str],
    *,
    server_pid: int,
    connections: int,
    seconds: float,
    body_size: int = 0,
    threads: int = 1,
    taskset: str | None = None,
) -> Load:
    """One wrk run of ``seconds`` (bounded: wrk stops itself; a hung wrk is killed at 3× that)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(wrk_script(method, paths, body_size))
        script = f.name
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        script,
        base_url,
    ]
    if taskset:
        argv = ["taskset", "-c", taskset, *argv]
    try:
        cpu0 = cpu_seconds(server_pid)
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds * 3 + 10, check=True
        ).stdout
        cpu = cpu_seconds(server_pid) - cpu0
    finally:
        os.unlink(script)
    m = _REQUESTS.search(out)
    if m is None:
        raise RuntimeError(f"wrk output not understood:\n{out}")
    errors = sum(int(x) for x in (_NON_2XX.search(out) or _dummy()).groups())
    sock = _SOCKET_ERRORS.search(out)
    if sock:
        errors += sum(int(x) for x in sock.groups()[1:])
    return Load(int(m.group(1)), float(m.group(2)) * _UNIT[m.group(3)], errors, cpu)


_HEY_TOTAL = re.compile(r"Total:\s+([\d.]+) secs")
_HEY_STATUS = re.compile(r"\[(\d{3})\]\s+(\d+) responses")


def hey(
    url: str,
    method: str,
    *,
    server_pid: int,
    connections: int,
    seconds: float,
    taskset: str | None = None,
) -> Load:
    """One hey run (for HEAD, whose bodiless answers wrk's parser waits on until it times out)."""
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed (apt-get install -y hey)")
    argv = ["hey", "-z", f"{max(1, round(seconds))}s", "-c", str(connections), "-m", method, url]
    if taskset:
        argv = ["taskset", "-c", taskset, *argv]
    cpu0 = cpu_seconds(server_pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 3 + 10, check=True).stdout
    cpu = cpu_seconds(server_pid) - cpu0
    total = _HEY_TOTAL.search(out)
    if total is None:
        raise RuntimeError(f"hey output not understood:\n{out}")
    ok = errors = 0
    for status, count in _HEY_STATUS.findall(out):
        if status.startswith("2"):
            ok += int(count)
        else:
            errors += int(count)
    if "Error distribution" in out:
        errors += 1
    return Load(ok, float(total.group(1)), errors, cpu)


def _dummy() -> re.Match[str]:
    m = re.match(r"(0)", "0")
    assert m is not None
    return m


@dataclass
class Transfer:
    mib_s: float
    cpu_s: float


def curl_get(urls: list[str], size: int, server_pid: int, timeout: float = 300) -> Transfer:
    """GET each URL at once (one curl process each, body to /dev/null); every one must bring ``size``."""
    cpu0 = cpu_seconds(server_pid)
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    outs = [p.communicate(timeout=timeout)[0].split() for p in procs]
    wall = time.monotonic() - t0
    cpu = cpu_seconds(server_pid) - cpu0
    for out in outs:
        if out != ["200", str(size)]:
            raise RuntimeError(f"GET answered {out}, wanted 200 and {size} bytes")
    return Transfer(len(urls) * size / 2**20 / wall, cpu)


def curl_put(
    url: str, path: Path, headers: dict[str, str], server_pid: int, timeout: float = 300
) -> Transfer:
    """PUT the file at ``path`` to ``url`` with the given (signed) headers; must answer 200."""
    argv = [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "-T",
        str(path),
        "-H",
        "Expect:",
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    cpu0 = cpu_seconds(server_pid)
    t0 = time.monotonic()
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=timeout, check=True).stdout
    wall = time.monotonic() - t0
    cpu = cpu_seconds(server_pid) - cpu0
    if out.strip() != "200":
        raise RuntimeError(f"PUT answered {out!r}")
    return Transfer(path.stat().st_size / 2**20 / wall, cpu)
