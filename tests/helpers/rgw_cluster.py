"""A throw-away single-node Ceph cluster with the RADOS Gateway (RGW) on loopback, for the tests.

One monitor, one OSD on the ``memstore`` object store (data in memory, nothing on a block device), and
``radosgw`` with the beast frontend: Debian's packages (``ceph-mon ceph-osd radosgw ceph-common``), no
systemd, no manager (``ceph-mgr`` only serves dashboards and statistics; RGW does not need it and it
costs ~300 MB), every file under one work directory, every daemon a child process stopped by its PID.

Why the settings below:

- cephx is off: the cluster lives on 127.0.0.1 for one test session, keyrings would only add steps.
  radosgw asks for a ``secure`` monitor connection by default, which needs cephx: ``crc`` instead.
- size-1 pools are created up front, in one ``ceph`` call: RGW would otherwise create each of its
  seven pools on first use, one by one, waiting ~2 s for each.
- ``paxos propose interval`` is lowered so that each monitor decision (a pool, the OSD) is quick.
- memstore keeps deleted data until RGW's garbage collector runs, by default two hours later: the gc
  waits are lowered so a long session does not grow without end.
- ``mon data avail warn/crit`` are lowered: the monitor otherwise warns on, and stops at, a fairly full
  disk, which says nothing about a test.
- beast gets ``tcp_nodelay``: without it every listing answer waits ~40 ms for a delayed ACK (7 ms
  instead of 50 ms a request; the contract suite's paging test runs in 3 s instead of 28 s).
- one bucket-index shard instead of eleven: creating, listing and deleting the suite's many small
  buckets touches one index object instead of eleven.

Run by hand: ``python3 -m tests.helpers.rgw_cluster [WORKDIR]`` starts a cluster, prints its endpoint and keys,
and stops it on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.helpers.procs import free_port

#: The binaries the cluster needs; without any of them the RGW tests skip (see ``missing_binaries``).
BINARIES = ("monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw", "radosgw-admin")
INSTALL_HINT = "apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common"
#: Every pool RGW's default zone uses, created before radosgw starts.
RGW_POOLS = (
    ".rgw.root",
    "default.rgw.control",
    "default.rgw.meta",
    "default.rgw.log",
    "default.rgw.buckets.index",
    "default.rgw.buckets.non-ec",
    "default.rgw.buckets.data",
)


@dataclass(frozen=True)
class RgwUser:
    uid: str
    access_key: str
    secret_key: str


#: Two users with known keys: the tests use the first; the second is there for cross-user checks.
USERS = (
    RgwUser("alice", "rgw-alice-access", "rgw-alice-secret-0123456789abcdef"),
    RgwUser("bob", "rgw-bob-access", "rgw-bob-secret-0123456789abcdef01"),
)


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def ceph_conf(workdir: Path, fsid: str, mon_port: int, rgw_port: int, memstore_bytes: int = 4 << 30) -> str:
    return f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
run dir = {workdir}/run
admin socket = {workdir}/run/$name.asok
pid file = {workdir}/run/$name.pid
log file = {workdir}/log/$name.log
crash dir = {workdir}/crash
mon data = {workdir}/mon/$cluster-$id
osd data = {workdir}/osd/$cluster-$id
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.05
paxos min wait = 0.01
osd max object name len = 1024
osd max object namespace len = 256
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw gc processor max time = 30
rgw thread pool size = 64
rgw override bucket index max shards = 1
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {workdir}/rgw
rgw enable usage log = false
"""


@dataclass
class RgwCluster:
    """The cluster under ``workdir``; ``start()`` returns once RGW answers S3 and the users exist."""

    workdir: Path
    users: tuple[RgwUser, ...] = USERS
    mon_port: int = field(default_factory=free_port)
    rgw_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_in: float = 0.0
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    @property
    def conf(self) -> Path:
        return self.workdir / "ceph.conf"

    # -- running commands and daemons ------------------------------------------------------------
    def _cmd(self, *argv: str, timeout: float = 60.0, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*argv, "-c", str(self.conf)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def _daemon(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """Start a daemon in the foreground (``-f``), so it is our child and its PID is ours to stop."""
        log = open(self.workdir / "log" / f"{name}.out", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen([*argv, "-f", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def _wait(self, what: str, ready: object, timeout: float, proc: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and self.procs[proc].poll() is not None:
                raise RuntimeError(f"{proc} exited with {self.procs[proc].returncode}: {self.log_tail(proc)}")
            try:
                if ready():  # type: ignore[operator]
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready after {timeout}s: {self.log_tail(proc or '')}")

    def log_tail(self, name: str, size: int = 3000) -> str:
        texts = []
        for path in (
            self.workdir / "log" / f"{name}.out",
            self.workdir / "log" / f"{self._ceph_name(name)}.log",
        ):
            if path.exists():
                texts.append(path.read_text(errors="replace")[-size:])
        return "\n".join(texts) or "(no log)"

    @staticmethod
    def _ceph_name(name: str) -> str:
        return {"mon": "mon.a", "osd": "osd.0", "rgw": "client.rgw"}.get(name, name)

    # -- life cycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> RgwCluster:
        began = time.monotonic()
        for sub in ("run", "log", "crash", "mon/ceph-a", "osd/ceph-0", "rgw"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        self.conf.write_text(ceph_conf(self.workdir, fsid, self.mon_port, self.rgw_port))
        try:
            self._start(fsid, began + timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _start(self, fsid: str, deadline: float) -> None:
        def left() -> float:
            return max(1.0, deadline - time.monotonic())

        monmap = self.workdir / "monmap"
        subprocess.run(
            ["monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]",
             str(monmap)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self._cmd("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap), timeout=left())
        self._daemon("mon", "ceph-mon", "-i", "a")
        osd_uuid = str(uuid.uuid4())
        osd_id = self._cmd("ceph", "--connect-timeout", "30", "osd", "new", osd_uuid, timeout=left()).strip()
        self._cmd("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid, timeout=left())
        self._daemon("osd", "ceph-osd", "-i", osd_id)
        # One ceph process for all pools: its interactive mode reads one command a line from stdin.
        script = "".join(
            f"osd pool create {pool} 8 8 replicated\nosd pool application enable {pool} rgw\n"
            for pool in RGW_POOLS
        )
        self._cmd("ceph", stdin=script, timeout=left())
        self._daemon("rgw", "radosgw", "-n", "client.rgw")
        for user in self.users:
            self._cmd(
                "radosgw-admin", "user", "create", "--uid", user.uid, "--display-name", user.uid,
                "--access-key", user.access_key, "--secret", user.secret_key, timeout=left(),
            )  # fmt: skip
        self._wait("radosgw", lambda: httpx.get(self.endpoint, timeout=1).status_code == 200, left(), "rgw")

    def revive(self, timeout: float = 30.0) -> None:
        """Start radosgw again after it died (the monitor and the OSD keep the data)."""
        proc = self.procs.get("rgw")
        if proc is None or proc.poll() is None:
            return
        if any(p.poll() is not None for n, p in self.procs.items() if n != "rgw"):
            return  # the cluster itself is gone: nothing to serve from
        self._daemon("rgw", "radosgw", "-n", "client.rgw")
        self._wait("radosgw", lambda: httpx.get(self.endpoint, timeout=1).status_code == 200, timeout, "rgw")

    def alive(self) -> str | None:
        """None while every daemon runs, else which one died and how (radosgw aborts with 134)."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                return f"{name} (pid {proc.pid}) exited with {code}: {self.log_tail(name, 1500)}"
        return None

    def rss(self) -> dict[str, int]:
        """Resident memory of each daemon in bytes (VmRSS), for the figures in the docs."""
        out = {}
        for name, proc in self.procs.items():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            kib = next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
            out[name] = int(kib) * 1024
        return out

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM each daemon by PID (radosgw first, the monitor last), SIGKILL what lingers."""
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=timeout)
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> RgwCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    missing = missing_binaries()
    if missing:
        print(f"missing {', '.join(missing)}: {INSTALL_HINT}", file=sys.stderr)
        return 2
    workdir = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="rgw-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the daemons on SIGTERM too
    with RgwCluster(workdir) as cluster:
        print(f"RGW at {cluster.endpoint} after {cluster.started_in:.1f}s (work dir {workdir})")
        for user in cluster.users:
            print(f"  user {user.uid}: access key {user.access_key}  secret key {user.secret_key}")
        print("  RSS:", {k: f"{v / 2**20:.0f} MiB" for k, v in cluster.rss().items()})
        try:
            while (dead := cluster.alive()) is None:
                time.sleep(1)
            print(dead, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
