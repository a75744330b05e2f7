"""A sorted index of a bucket's directory entries, so a listing page costs O(page), not O(directory).

The filesystem returns a directory's names in hash order: without an index, every page of a directory
of a million keys reads a million names. So each bucket has an index,
``<root>/.s3bridge/index/<bucket>.<generation>.sqlite`` (SQLite in WAL mode: readers never wait, writers
of every process on the host serialise on its lock for the span of one short transaction), with one row per directory entry, keyed by (directory, key fragment) in UTF-8
binary order, which is S3's key order. The directories stay the truth; the index is a **superset** of
what they hold, and may say more, never less:

- a name is added before it can appear: an object row before the rename that publishes the file (under
  the key's lock), a directory row before the ``mkdir`` (under the directory's lock, see fs backend);
- a name is removed only after it went, under the same lock, after checking it is still gone; so a row
  is never dropped for a name a concurrent writer is about to publish;
- a listing reads rows from the page's position on and checks each against the disk (an ``lstat`` per
  object, which it needs anyway for the object's size and ETag): a row whose file is gone is skipped,
  then removed as above. A crash between adding a row and the rename leaves such a row: harmless.
- a directory is listed from the index only once it was *verified*: its names read from disk and added
  (``dirs`` row). Data written before the index existed, a missing, deleted or corrupt index, are all
  the same case: the first listing of each directory scans it once. So does the first listing after a
  reboot (the ``dirs`` row keeps the kernel's boot id): SQLite's WAL with ``synchronous=NORMAL`` keeps
  a commit through a process crash without an fsync per write, but a power cut may lose the last
  commits, while the object they announced was fsynced.

An object row also caches the object's record (the JSON the file ends with) and the file's (inode, size,
mtime) when the row was written. A listing uses the cache only while the ``lstat`` of the file still
gives those three (a file replaced without its row, e.g. a version promoted by a rename, reads as a
miss and is read from the file): the cache is never trusted for what it says, only for what the file
still is.

Per host, as the key locks are (see fs keylocks, fs tempdirs): SQLite's locking does not hold across
hosts on a network filesystem. Files put into the layout by other means (or by processes of an older
version writing to the same root) are not announced: remove ``<root>/.s3bridge/index/<bucket>.*`` while
no gateway runs after such writes (the next listings rebuild it).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from backends import errors as be
from backends.fs.keys import CONT, DIR, OBJ, parse_component, unescape

T = TypeVar("T")

INDEX_SUFFIX = ".sqlite"
VERSIONS = "v"  # fs versions' directory kind (fs versions imports nothing from here)
#: Rows added per transaction while verifying a directory, so writers wait for at most one batch.
VERIFY_BATCH = 5000
BUSY_TIMEOUT_S = 30.0
#: Open indexes kept per thread (the least recently used beyond this are closed).
CONNECTIONS_PER_THREAD = 16
_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    dir TEXT NOT NULL,
    frag BLOB NOT NULL,
    rank INTEGER NOT NULL,
    name TEXT NOT NULL,
    ino INTEGER, fsize INTEGER, mtime INTEGER, record BLOB,
    PRIMARY KEY (dir, frag, rank, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirs (dir TEXT PRIMARY KEY, boot TEXT NOT NULL) WITHOUT ROWID;
"""


def boot_id() -> str:
    try:
        with open(_BOOT_ID_PATH, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return "unknown"  # not Linux: a reboot is not detected (documented in the README)


BOOT_ID = boot_id()


def entry_of(name: str) -> tuple[str, int] | None:
    """(key fragment, rank) of a directory entry name: rank 0 for what stands for a key (an object
    file, a versions directory), 1 for a directory to descend; None for a name not ours."""
    kind, text = name[:1], name[1:]
    if "%" not in text and "/" not in text and "\x00" not in text and text:  # most names: no escapes
        if kind == OBJ or kind == VERSIONS:
            return text, 0
        if kind == DIR:
            return text + "/", 1
        if kind == CONT:
            return text, 1
        return None
    if kind == VERSIONS:
        unescaped = unescape(text)
        return None if unescaped is None or "/" in unescaped else (unescaped, 0)
    parsed = parse_component(name)
    if parsed is None:
        return None
    kind, text = parsed
    return text, int(kind != OBJ)


@dataclass(slots=True)
class Cached:
    """What an object row remembers of the file it announced."""

    ino: int
    size: int
    mtime_ns: int
    record: bytes


#: An index row as SQLite gives it: (fragment, rank, name, inode, size, mtime, record); the last four
#: are the cache (None where the row caches nothing). Tuples, not objects: a page reads a thousand.
RawRow = tuple[bytes, int, str, int | None, int | None, int | None, bytes | None]

_COLUMNS = "frag, rank, name, ino, fsize, mtime, record"


def frag_text(raw: RawRow) -> str:
    return raw[0].decode("utf-8", "surrogatepass")


def _frag(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class BucketIndex:
    """One bucket's index through one thread's connection (blocking calls)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- writing ---------------------------------------------------------------------------------
    def add(self, rel: str, names: Iterable[str]) -> None:
        """Announce names about to appear in directory ``rel`` (kept if already there)."""
        rows = [(rel, _frag(e[0]), e[1], n) for n in names if (e := entry_of(n)) is not None]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO entries (dir, frag, rank, name) VALUES (?, ?, ?, ?)", rows
            )

    def put_object(self, rel: str, name: str, st: os.stat_result, record: bytes) -> None:
        """Announce an object file about to be renamed into ``rel``, with its record (the cache)."""
        entry = entry_of(name)
        if entry is None:
            return
        self.conn.execute(
            "INSERT INTO entries (dir, frag, rank, name, ino, fsize, mtime, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dir, frag, rank, name) DO UPDATE SET "
            "ino = excluded.ino, fsize = excluded.fsize, mtime = excluded.mtime, record = excluded.record",
            (rel, _frag(entry[0]), entry[1], name, st.st_ino, st.st_size, st.st_mtime_ns, record),
        )

    def remember(self, rel: str, name: str, cached: Cached) -> None:
        """Cache a record a listing had to read from the file (only if the row is still there)."""
        entry = entry_of(name)
        if entry is not None:
            self.conn.execute(
                "UPDATE entries SET ino = ?, fsize = ?, mtime = ?, record = ? "
                "WHERE dir = ? AND frag = ? AND rank = ? AND name = ?",
                (
                    cached.ino,
                    cached.size,
                    cached.mtime_ns,
                    cached.record,
                    rel,
                    _frag(entry[0]),
                    entry[1],
                    name,
                ),
            )

    def remove(self, rel: str, name: str) -> None:
        """Drop a row: call only under the lock that guards the name, after checking it is gone."""
        entry = entry_of(name)
        if entry is not None:
            self.conn.execute(
                "DELETE FROM entries WHERE dir = ? AND frag = ? AND rank = ? AND name = ?",
                (rel, _frag(entry[0]), entry[1], name),
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- verifying -------------------------------------------------------------------------------
    def verified(self, rel: str) -> bool:
        found = self.conn.execute("SELECT boot FROM dirs WHERE dir = ?", (rel,)).fetchone()
        return found is not None and found[0] == BOOT_ID

    def verify(self, rel: str, path: str) -> bool:
        """Add every name of directory ``path`` (blocking, O(directory): once per directory and boot);
        False when the directory is not there."""
        try:
            with os.scandir(path) as scan:
                batch: list[str] = []
                for entry in scan:
                    batch.append(entry.name)
                    if len(batch) >= VERIFY_BATCH:
                        self.add(rel, batch)
                        batch = []
                self.add(rel, batch)
        except (FileNotFoundError, NotADirectoryError):
            return False
        self.mark_verified(rel)
        return True

    def mark_verified(self, rel: str) -> None:
        """Every name of ``rel`` is in the index (since this boot)."""
        self.conn.execute("INSERT OR REPLACE INTO dirs (dir, boot) VALUES (?, ?)", (rel, BOOT_ID))

    # -- reading ---------------------------------------------------------------------------------
    def rows_from(self, rel: str, low: str, letters: str) -> Iterator[RawRow]:
        """The rows of ``rel`` whose fragment is at least ``low``, in key order; only names starting
        with one of ``letters``."""
        kinds = ",".join("?" * len(letters))
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE dir = ? AND frag >= ? "
            f"AND substr(name, 1, 1) IN ({kinds}) ORDER BY frag, rank, name",
            (rel, _frag(low), *letters),
        )

    def dirs_at(self, rel: str, frags: Iterable[str]) -> list[RawRow]:
        """The directory rows of ``rel`` with exactly these fragments."""
        found: list[RawRow] = []
        for frag in frags:
            found += self.conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE dir = ? AND frag = ? AND rank = 1", (rel, _frag(frag))
            )
        return found


class NameIndexes:
    """Each bucket's index, ``<index_dir>/<bucket>.<generation>.sqlite``, one connection per (thread,
    bucket). A damaged index is never removed nor renamed (another process may have it open, and SQLite
    finds a database's log by its name): the next generation is made beside it and every process moves
    to it on its next use (one ``stat`` per use looks for it). Its directories are verified afresh."""

    def __init__(self, index_dir: str) -> None:
        self.index_dir = index_dir
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generations: dict[str, int] = {}

    def path(self, bucket_dir: str, generation: int) -> str:
        return os.path.join(self.index_dir, f"{os.path.basename(bucket_dir)}.{generation}{INDEX_SUFFIX}")

    def generation(self, bucket_dir: str) -> int:
        """The bucket's current index generation: the newest whose file exists (0 when none does)."""
        name = os.path.basename(bucket_dir)
        with self._lock:
            known = self._generations.get(name)
        if known is None:
            known = 0
            with contextlib.suppress(FileNotFoundError):
                for entry in os.listdir(self.index_dir):
                    head, _, tail = entry.removesuffix(INDEX_SUFFIX).rpartition(".")
                    if head == name and entry.endswith(INDEX_SUFFIX) and tail.isdigit():
                        known = max(known, int(tail))
        while os.path.exists(self.path(bucket_dir, known + 1)):
            known += 1
        with self._lock:
            self._generations[name] = max(known, self._generations.get(name, 0))
            return self._generations[name]

    def _connections(self) -> OrderedDict[str, tuple[int, sqlite3.Connection]]:
        conns: OrderedDict[str, tuple[int, sqlite3.Connection]] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = OrderedDict()
        return conns

    def of(self, bucket_dir: str) -> BucketIndex:
        generation = self.generation(bucket_dir)
        conns = self._connections()
        held = conns.get(bucket_dir)
        if held is not None and held[0] == generation:
            conns.move_to_end(bucket_dir)
            return BucketIndex(held[1])
        if held is not None:
            held[1].close()
            del conns[bucket_dir]
        os.makedirs(self.index_dir, exist_ok=True)
        conn = _connect(self.path(bucket_dir, generation))
        conns[bucket_dir] = (generation, conn)
        while len(conns) > CONNECTIONS_PER_THREAD:  # three descriptors each: many buckets, few kept
            conns.popitem(last=False)[1][1].close()
        return BucketIndex(conn)

    def held(self, bucket_dir: str) -> int | None:
        """The generation this thread's connection last used for the bucket."""
        held = self._connections().get(bucket_dir)
        return held[0] if held is not None else None

    def call(self, bucket_dir: str, fn: Callable[[BucketIndex], T]) -> T:
        """``fn`` on the bucket's index; on a damaged index, ``fn`` again on the next generation."""
        for attempt in range(2):
            try:
                return fn(self.of(bucket_dir))
            except sqlite3.OperationalError as exc:  # locked past the timeout, I/O error, ...
                raise be.InternalBackendError(detail=f"listing index: {exc}") from None
            except sqlite3.DatabaseError as exc:  # not a database, malformed
                if attempt:
                    raise be.InternalBackendError(detail=f"listing index: {exc}") from None
                self.renew(bucket_dir)
        raise AssertionError("unreachable")

    def renew(self, bucket_dir: str) -> None:
        """Start the next generation of the bucket's index (empty: every directory verified afresh)."""
        generation = self.generation(bucket_dir) + 1
        os.makedirs(self.index_dir, exist_ok=True)
        _connect(self.path(bucket_dir, generation)).close()
        self.generation(bucket_dir)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn
