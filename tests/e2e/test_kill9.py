"""kill -9 at random points of PUT, overwrite and CompleteMultipartUpload (issue 16, a fuzzer that stays).

A real gateway on the fs backend (fsync on, the default) takes uploads from client threads: new PUTs of
a few MiB, overwrites of existing keys with another body, multipart uploads with their parts sent and
CompleteMultipartUpload in flight, and whole multipart uploads (create, parts, complete). At a random
moment (a seeded delay; a temp file of the victim reaching a random size; or one renamed into place,
so between a commit and its answer) the gateway is SIGKILLed, and a new one starts on the same root.
Then:

- every key holds one of its known versions whole: the old or the new body (SHA-256, size and ETag),
  never a mix, never partial, and nothing unlisted lies in the bucket's directory;
- every write the client saw acknowledged (200) is there: the new body, the completed upload gone;
- an upload whose completion was not acknowledged is either completed whole, or still listed with its
  acknowledged parts whole, and can be completed or aborted afterwards;
- ``<root>/.s3bridge/tmp`` holds only the new process's own, empty, directory: nothing of the dead one.

One writer per key per round, so "old" and "new" are exact. Seeded (``S3BRIDGE_KILL9_SEED``) and bounded
(``S3BRIDGE_KILL9_ROUNDS``, 14 by default); a failure names the seed and the round.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions

from tests.helpers.clients import boto3_client
from tests.helpers.procs import ServerProcess, free_port, gateway_server

PAIR = ("kill9-ak", "kill9-sk-0123456789abcdef")
BUCKET = "kill9"
SEED = int(os.environ.get("S3BRIDGE_KILL9_SEED", "16009"))
ROUNDS = int(os.environ.get("S3BRIDGE_KILL9_ROUNDS", "14"))
KEYS = [f"dir/k{i:02d}" for i in range(8)]
#: Keys written concurrently in one round (each by its own thread).
WRITERS = 4
MiB = 1024 * 1024
PART = 5 * MiB  # S3's least size of a part that is not the last
TIMEOUT = 30.0


@dataclass(frozen=True)
class Version:
    """One known body of a key, by what a reader can check."""

    sha256: str
    size: int
    etag: str


def body_version(body: bytes) -> Version:
    return Version(hashlib.sha256(body).hexdigest(), len(body), hashlib.md5(body).hexdigest())


def multipart_version(parts: list[bytes]) -> Version:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    whole = b"".join(parts)
    return Version(
        hashlib.sha256(whole).hexdigest(), len(whole), f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"
    )


@dataclass
class Write:
    """One key's write in a round and what its client saw acknowledged."""

    key: str
    kind: str  # "put", "complete" (parts sent before the round) or "multipart" (all in the round)
    parts: list[bytes] = field(repr=False)
    old: Version | None
    upload_id: str | None = None
    acked_parts: dict[int, str] = field(default_factory=dict)  # part number -> ETag
    acked: bool = False
    error: str = ""
    unexpected: str = ""

    @property
    def new(self) -> Version:
        return body_version(self.parts[0]) if self.kind == "put" else multipart_version(self.parts)

    def completion(self) -> dict[str, Any]:
        return {"Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(self.acked_parts.items())]}


def writer_client(server: ServerProcess) -> Any:
    """One attempt per call: an answer the client got is exactly what the gateway acknowledged."""
    return boto3_client(server.url, PAIR, connect_timeout=2, read_timeout=TIMEOUT)


def checker_client(server: ServerProcess) -> Any:
    """Retries for the checks (idempotent reads and aborts), so a pooled connection to the dead process
    never reads as a failure of the new one."""
    return boto3_client(server.url, PAIR, retries={"total_max_attempts": 3, "mode": "standard"})


def send_parts(s3: Any, w: Write) -> None:
    for number, body in enumerate(w.parts, start=1):
        assert w.upload_id is not None
        answer = s3.upload_part(Bucket=BUCKET, Key=w.key, UploadId=w.upload_id, PartNumber=number, Body=body)
        w.acked_parts[number] = answer["ETag"]


def run_write(s3: Any, w: Write) -> None:
    """The write, recording each acknowledgement as it comes; a connection cut by the kill ends it."""
    try:
        if w.kind == "put":
            s3.put_object(Bucket=BUCKET, Key=w.key, Body=w.parts[0])
        else:
            if w.kind == "multipart":
                w.upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=w.key)["UploadId"]
                send_parts(s3, w)
            s3.complete_multipart_upload(
                Bucket=BUCKET, Key=w.key, UploadId=w.upload_id, MultipartUpload=w.completion()
            )
        w.acked = True
    except botocore.exceptions.BotoCoreError as exc:  # the connection cut: nothing acknowledged
        w.error = repr(exc)
    except Exception as exc:  # an S3 error answer from a live gateway, or a bug here: checked after
        w.unexpected = repr(exc)


class Store:
    """The gateway process on one fs root, killed and restarted on the same port."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "data"
        self.tmp = self.root / ".s3bridge" / "tmp"
        self.port = free_port()
        self.starts = 0
        self.server = self._start()

    def _start(self) -> ServerProcess:
        self.starts += 1
        log = self.base / f"gateway-{self.starts}.log"
        return gateway_server(
            self.port, data_dir=self.root, access_key=PAIR[0], secret_key=PAIR[1], log_path=log
        ).start()

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def own_dirs(self, pid: int) -> list[Path]:
        return [p for p in self.tmp.iterdir() if p.name.startswith(f"p-{pid}-")]

    def temporaries(self, pid: int) -> list[str]:
        """Files of process ``pid``'s temp directory but its lock (read while they come and go)."""
        found = []
        for d in self.own_dirs(pid):
            for top, _, files in os.walk(d):
                found += [os.path.join(top, f) for f in files if f != ".lock"]
        return found

    def restart(self) -> None:
        self.server.stop()  # the kill left only the log open
        self.server = self._start()


def kill_when(store: Store, rng: random.Random) -> Callable[[Callable[[], bool]], None]:
    """A seeded kill moment, waited for while ``busy`` (some writer still runs): a random delay; a temp
    file of the victim reaching a random size (mid-body); or a temp file of the victim gone (renamed into
    place: killed between a commit and its answer)."""
    pid = store.pid
    mode = rng.choice(["delay", "delay", "spool", "publish"])
    if mode == "delay":
        delay = rng.uniform(0.0, 0.4)
        return lambda busy: time.sleep(delay)
    threshold = rng.randrange(0, 4 * MiB)

    def sizes() -> dict[str, int]:
        found = {}
        for path in store.temporaries(pid):
            with contextlib.suppress(FileNotFoundError):
                found[path] = os.stat(path).st_size
        return found

    def until(busy: Callable[[], bool]) -> None:
        seen: set[str] = set()
        while busy():
            now = sizes()
            if mode == "spool" and any(size >= threshold for size in now.values()):
                return
            if mode == "publish" and seen - now.keys():
                return
            seen |= now.keys()
            time.sleep(0.0005)

    return until


class Round:
    """One round: plan, prepare, write while killing, restart, check."""

    def __init__(self, number: int, store: Store, state: dict[str, Version | None]):
        self.number = number
        self.store = store
        self.state = state
        self.rng = random.Random(f"{SEED}/{number}")  # a round's plan does not depend on earlier timing
        self.writes: list[Write] = []
        self.litter = 0

    def where(self) -> str:
        return f"seed {SEED}, round {self.number}"

    def plan(self) -> None:
        for key in self.rng.sample(KEYS, WRITERS):
            kind = self.rng.choice(["put", "put", "complete", "multipart"])
            if kind == "put":
                parts = [self.rng.randbytes(self.rng.randrange(MiB, 5 * MiB))]
            else:
                parts = [self.rng.randbytes(PART), self.rng.randbytes(self.rng.randrange(1, 2 * MiB))]
            self.writes.append(Write(key, kind, parts, self.state[key]))

    def prepare(self, s3: Any) -> None:
        """Uploads whose CompleteMultipartUpload will be in flight get their parts acknowledged first."""
        for w in self.writes:
            if w.kind == "complete":
                w.upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=w.key)["UploadId"]
                send_parts(s3, w)

    def write_and_kill(self, clients: list[Any]) -> None:
        wait = kill_when(self.store, self.rng)
        victim = self.store.pid
        gate = threading.Barrier(len(self.writes) + 1)

        def go(s3: Any, w: Write) -> None:
            gate.wait()
            run_write(s3, w)

        threads = [
            threading.Thread(target=go, args=(c, w)) for c, w in zip(clients, self.writes, strict=False)
        ]
        for t in threads:
            t.start()
        gate.wait()
        wait(lambda: any(t.is_alive() for t in threads))
        self.store.server.kill()
        dead = self.store.own_dirs(victim)
        assert len(dead) == 1, f"{self.where()}: the victim's temp directories: {dead}"
        self.litter = len(self.store.temporaries(victim))
        for t in threads:
            t.join(TIMEOUT)
            assert not t.is_alive(), f"{self.where()}: a client still waits on a dead gateway"
        for w in self.writes:
            assert not w.unexpected, f"{self.where()}: {w.kind} of {w.key} failed otherwise: {w.unexpected}"
        self.store.restart()
        self.check_temps(victim)

    def check_temps(self, victim: int) -> None:
        """Nothing of the dead process in the temp area: only the new process's directory, empty."""
        entries = sorted(p.name for p in self.store.tmp.iterdir())
        mine = [p.name for p in self.store.own_dirs(self.store.pid)]
        assert len(mine) == 1 and entries == mine, (
            f"{self.where()}: after the restart the temp area holds {entries} (victim pid {victim}, "
            f"new pid {self.store.pid})"
        )
        inside = sorted(p.name for p in (self.store.tmp / mine[0]).iterdir())
        assert inside == [".lock"], f"{self.where()}: the new process's temp directory holds {inside}"

    def read(self, s3: Any, key: str) -> Version | None:
        try:
            got = s3.get_object(Bucket=BUCKET, Key=key)
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchKey", f"{self.where()}: GET {key}: {exc}"
            return None
        body = got["Body"].read()
        version = body_version(body)
        etag = got["ETag"].strip('"')
        assert got["ContentLength"] == len(body), f"{self.where()}: {key} is shorter than its length"
        return Version(version.sha256, version.size, etag)

    def check_objects(self, s3: Any) -> None:
        """Each key holds its old or its new version whole, the new one if it was acknowledged."""
        writes = {w.key: w for w in self.writes}
        for key in KEYS:
            now = self.read(s3, key)
            w = writes.get(key)
            if w is None:
                assert now == self.state[key], f"{self.where()}: {key}, written by nobody, changed"
                continue
            allowed = [w.new] if w.acked else [w.old, w.new]
            assert now in allowed, (
                f"{self.where()}: {key} ({w.kind}, acknowledged: {w.acked}, {w.error}) holds {now}; "
                f"old {w.old}, new {w.new}"
            )
            self.state[key] = now
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        assert listed == {k for k, v in self.state.items() if v is not None}, self.where()
        bucket_dir = self.store.root / BUCKET
        on_disk = [
            p
            for p in bucket_dir.rglob("*")
            if p.is_file() and p.name != ".created" and p.relative_to(bucket_dir).parts[0] != ".settings"
        ]
        assert len(on_disk) == len(listed), f"{self.where()}: files beside the listed objects: {on_disk}"

    def check_uploads(self, s3: Any) -> None:
        """A completion acknowledged leaves no upload; one not acknowledged left the object completed
        whole, or the upload listed with its acknowledged parts whole, to be completed or aborted now."""
        listed = {
            u["UploadId"]: u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        }
        for w in self.writes:
            if w.kind == "put":
                continue
            if w.acked:
                assert w.upload_id not in listed, f"{self.where()}: {w.key}'s completed upload is listed"
                continue
            if w.upload_id is None:  # the create was cut: an upload may exist under an id never seen
                continue
            if self.state[w.key] != w.new:
                assert w.upload_id in listed, f"{self.where()}: {w.key}: neither completed nor listed"
            if w.upload_id not in listed:
                continue
            self.check_parts(s3, w)
            del listed[w.upload_id]
            if self.state[w.key] != w.new and len(w.acked_parts) == len(w.parts) and self.rng.random() < 0.5:
                s3.complete_multipart_upload(
                    Bucket=BUCKET, Key=w.key, UploadId=w.upload_id, MultipartUpload=w.completion()
                )
                assert self.read(s3, w.key) == w.new, f"{self.where()}: {w.key} completed after restart"
                self.state[w.key] = w.new
            else:
                s3.abort_multipart_upload(Bucket=BUCKET, Key=w.key, UploadId=w.upload_id)
        cut = {w.key for w in self.writes if w.kind == "multipart" and w.upload_id is None}
        for upload_id, key in listed.items():
            assert key in cut, f"{self.where()}: upload {upload_id} of {key} belongs to no write in flight"
            s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
        left = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        assert left == [], f"{self.where()}: uploads left after aborting: {left}"
        uploads_dir = self.store.root / ".s3bridge" / "uploads" / BUCKET
        # hidden entries are not uploads: ``.completed`` keeps the answers of completed uploads (fs completions)
        on_disk = (
            sorted(n for n in os.listdir(uploads_dir) if not n.startswith("."))
            if uploads_dir.exists()
            else []
        )
        assert on_disk == [], f"{self.where()}: unlisted upload directories: {on_disk}"

    def check_parts(self, s3: Any, w: Write) -> None:
        parts = s3.list_parts(Bucket=BUCKET, Key=w.key, UploadId=w.upload_id).get("Parts", [])
        stored = {p["PartNumber"]: (p["ETag"], p["Size"]) for p in parts}
        for number, etag in w.acked_parts.items():
            assert number in stored, f"{self.where()}: {w.key}: acknowledged part {number} is gone"
            assert stored[number][0] == etag, f"{self.where()}: {w.key}: part {number} changed"
        for number, (etag, size) in stored.items():
            body = w.parts[number - 1]
            expected = (f'"{hashlib.md5(body).hexdigest()}"', len(body))
            assert (etag, size) == expected, f"{self.where()}: {w.key}: part {number} is torn"


def test_kill9_leaves_old_or_new_whole(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        s3 = checker_client(store.server)
        s3.create_bucket(Bucket=BUCKET)
        clients = [writer_client(store.server) for _ in range(WRITERS)]
        state: dict[str, Version | None] = dict.fromkeys(KEYS)
        rounds = [Round(n, store, state) for n in range(ROUNDS)]
        for r in rounds:
            r.plan()
            r.prepare(s3)
            r.write_and_kill(clients)
            r.check_objects(s3)
            r.check_uploads(s3)
        writes = [w for r in rounds for w in r.writes]
        acked, cut = sum(w.acked for w in writes), sum(not w.acked for w in writes)
        # the kills fell inside writes, and at least once while a temp file of the victim was on disk
        assert acked and cut, f"seed {SEED}: {acked} writes acknowledged, {cut} cut by a kill"
        assert any(r.litter for r in rounds), f"seed {SEED}: no kill ever left a temp file to reclaim"
    finally:
        store.server.stop()
    assert list(store.tmp.iterdir()) == [], "a clean stop left something in the temp area"
