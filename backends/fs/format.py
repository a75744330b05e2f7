"""The filesystem backend's object file: the data, then a JSON record, then a fixed footer.

``data || record (UTF-8 JSON) || MAGIC (8 bytes) || record length (8 bytes, big-endian)``

Data and metadata live in one file so that one rename publishes both together: a reader sees the old
object or the new one, never a mix, and a crash before the rename leaves only a temp file. The record
goes last so a writer streams the body straight to disk and appends what it learned (size, MD5, the
checksums the body computed) at the end, with no seek back. A HEAD or a listing reads the last bytes
only; a GET serves ``[0, size)``. Parts of multipart uploads use the same format.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from backends.base import Listed, ObjectInfo, ObjectMeta, PartInfo
from backends.base import unique_etag as base_unique_etag
from backends.fs.writeback import Writeback

MAGIC = b"s3brObj1"
_FOOTER = struct.Struct(">8sQ")
#: Bytes read from the end of an object file to find its record (see read_record).
TAIL_READ = 4096
_META_FIELDS = {f.name for f in dataclasses.fields(ObjectMeta)}
_DICT_FIELDS = ("user", "checksums", "tags")
#: Temp file names: a counter (each process has a temp directory of its own, see fs tempdirs).
_TEMP_NAMES = itertools.count()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def utc_of_ns(mtime_ns: int) -> dt.datetime:
    """A record's time as a UTC datetime, truncated to the microsecond as integers: float seconds would
    round a time a fraction of a microsecond before a second up into the next one, and a listing's
    light form (``Listed``, dates written from the nanoseconds) would then show another millisecond."""
    return _EPOCH + dt.timedelta(microseconds=mtime_ns // 1000)


class CorruptObject(Exception):
    """A file that does not end with a valid record (not ours, or damaged)."""


@dataclass
class Record:
    """What the footer of an object or part file says about its data."""

    etag: str
    mtime_ns: int
    meta: dict[str, Any] = field(default_factory=dict)
    size: int = 0  # derived from the file size when read, not stored

    @property
    def last_modified(self) -> dt.datetime:
        return utc_of_ns(self.mtime_ns)

    def object_meta(self) -> ObjectMeta:
        """A fresh ObjectMeta (its dicts copied: the record may be asked again); built directly, as a
        listing builds one per key."""
        known = {k: v for k, v in self.meta.items() if k in _META_FIELDS}
        for name in _DICT_FIELDS:
            if name in known:
                known[name] = dict(known[name])
        return ObjectMeta(**known)

    def object_info(self, key: str) -> ObjectInfo:
        version = self.meta.get("version")  # set in versioned buckets (see fs_versions)
        return ObjectInfo(
            key=key,
            size=self.size,
            etag=self.etag,
            last_modified=self.last_modified,
            meta=self.object_meta(),
            version_id=("null" if version.endswith("n") else version) if isinstance(version, str) else None,
            delete_marker=bool(self.meta.get("delete_marker")),
        )

    def listed_info(self, key: str) -> ObjectInfo:
        """What a listing says of the object (see ``listed_info``)."""
        return listed_info(key, self.size, self.etag, self.mtime_ns, self.meta)

    def part_info(self, number: int) -> PartInfo:
        return PartInfo(
            number, self.etag, self.size, self.last_modified, dict(self.meta.get("checksums") or {})
        )


def listed_info(key: str, size: int, etag: str, mtime_ns: int, meta: dict[str, Any]) -> ObjectInfo:
    """What a listing says of an object, as S3 lists it: no content headers, user metadata nor tags,
    only the checksum algorithms and the storage class with the size, ETag and date."""
    checksums = meta.get("checksums")
    return ObjectInfo(
        key,
        size,
        etag,
        utc_of_ns(mtime_ns),
        ObjectMeta(checksums=dict(checksums) if checksums else {}, storage_class=meta.get("storage_class")),
    )


def listed_from_blob(key: str, blob: bytes, total: int) -> ObjectInfo:
    """``listed_info`` straight from a record's JSON and the size of the file it ends (what the
    listing index caches), without a Record in between: a listing makes one per key."""
    try:
        doc = orjson.loads(blob)
        return listed_info(
            key, total - _FOOTER.size - len(blob), doc["etag"], int(doc["mtime_ns"]), doc["meta"]
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptObject(f"bad record: {exc}") from None


def listed_light(key: str, size: int, etag: str, mtime_ns: int, meta: dict[str, Any]) -> Listed:
    """``listed_info`` in the light form of a listing page (``Listed``)."""
    checksums = meta.get("checksums")
    return Listed(key, size, etag, mtime_ns, tuple(checksums) if checksums else (), meta.get("storage_class"))


#: Records a listing parsed, by their JSON: (ETag, time, checksum algorithms, storage class). Pages
#: list the same objects again and again; a record is never changed (a change is a new file and a new
#: record), so its JSON is its own key. Emptied when full.
_PARSED: dict[bytes, tuple[str, int, tuple[str, ...], str | None]] = {}
PARSED_LIMIT = 10_000


def light_from_blob(key: str, blob: bytes, total: int) -> Listed:
    """``listed_from_blob`` in the light form."""
    parsed = _PARSED.get(blob)
    if parsed is None:
        try:
            doc = orjson.loads(blob)
            etag, meta = doc["etag"], doc["meta"]
            if not isinstance(etag, str):
                raise TypeError("etag is not text")
            checksums = meta.get("checksums")
            parsed = (
                etag,
                int(doc["mtime_ns"]),
                tuple(checksums) if checksums else (),
                meta.get("storage_class"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptObject(f"bad record: {exc}") from None
        if len(_PARSED) >= PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[blob] = parsed
    etag, mtime_ns, algorithms, storage_class = parsed
    # The tuple made directly: Listed's generated __new__ is a Python call, a tenth of a cached key's cost.
    return _new_tuple(Listed, (key, total - _TRAILER - len(blob), etag, mtime_ns, algorithms, storage_class))


_new_tuple = tuple.__new__
_TRAILER = _FOOTER.size


#: ObjectMeta's fields a record stores: all but ``tag_count`` (a read-side field) and ``encryption`` (how an
#: object is encrypted is an answer of the encrypt layer above, never stored with the object; a copy
#: streamed from an encrypted bucket carries it in the source's metadata).
_STORED_FIELDS = tuple(
    f.name for f in dataclasses.fields(ObjectMeta) if f.name not in ("tag_count", "encryption")
)


def meta_to_dict(meta: ObjectMeta) -> dict[str, Any]:
    """The record's ``meta``: ObjectMeta's stored fields, its dicts copied (``dataclasses.asdict`` would
    deep-copy each string too: a tenth of a small PUT's event-loop time)."""
    stored = {name: getattr(meta, name) for name in _STORED_FIELDS}
    for name in _DICT_FIELDS:
        if stored[name] is not None:
            stored[name] = dict(stored[name])
    return stored


def record_bytes(record: Record) -> bytes:
    """The record's JSON, as the file stores it (and the listing index caches it)."""
    return json.dumps(
        {"etag": record.etag, "mtime_ns": record.mtime_ns, "meta": record.meta},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def footer_bytes(record: Record) -> bytes:
    """What follows the data in an object file: the record's JSON and the fixed footer."""
    blob = record_bytes(record)
    return blob + _FOOTER.pack(MAGIC, len(blob))


def read_record(fd: int) -> Record:
    """The record of an open object file, with ``size`` set to the length of its data."""
    total = os.fstat(fd).st_size
    return parse_record(read_record_blob(fd, total), total)


def read_record_blob(fd: int, total: int) -> bytes:
    """The JSON record of an open object file of ``total`` bytes (the listing index caches it)."""
    if total < _FOOTER.size:
        raise CorruptObject("file shorter than the footer")
    # One read of the tail holds footer and record together for all but records of unusual size.
    tail_len = min(total, TAIL_READ)
    tail = os.pread(fd, tail_len, total - tail_len)
    if len(tail) != tail_len:
        raise CorruptObject("file shorter than its size")
    magic, length = _FOOTER.unpack_from(tail, tail_len - _FOOTER.size)
    data_size = total - _FOOTER.size - length
    if magic != MAGIC or data_size < 0:
        raise CorruptObject("bad footer")
    if length + _FOOTER.size <= tail_len:
        return tail[tail_len - _FOOTER.size - length : tail_len - _FOOTER.size]
    blob = os.pread(fd, length, data_size)
    if len(blob) != length:
        raise CorruptObject("file shorter than its size")
    return blob


def parse_record(blob: bytes, total: int) -> Record:
    """A record from its JSON and the size of the whole file it ends."""
    try:
        doc = orjson.loads(blob)
        size = total - _FOOTER.size - len(blob)
        return Record(etag=doc["etag"], mtime_ns=int(doc["mtime_ns"]), meta=dict(doc["meta"]), size=size)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptObject(f"bad record: {exc}") from None


def read_record_at(path: str) -> Record:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_record(fd)
    finally:
        os.close(fd)


def read_record_and_blob(path: str) -> tuple[Record, os.stat_result, bytes]:
    """The record of the file at ``path``, the file's stat and the record's JSON (what the listing
    index caches, with the stat that says when the cache no longer describes the file)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        blob = read_record_blob(fd, st.st_size)
    finally:
        os.close(fd)
    return parse_record(blob, st.st_size), st, blob


#: Held bytes and the write after them (the record) are joined into one write up to this size; a larger
#: body is written on its own rather than copied once more.
_JOIN_LIMIT = 64 * 1024


def _write_fully(f: io.FileIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = f.write(view)
        view = view[written or 0 :]


class TempFile:
    """A temp file being filled with an object's data (blocking; call from a worker thread).

    It lives in the state directory on the same filesystem as the buckets, so publishing it is one
    atomic rename. ``etag`` is the MD5 of what was written (hashed here when ``hash_md5`` is set, or
    given by the body through ``md5_from``), or with ``unique_etag`` an ETag unique to this write and
    no hashing at all (``backends.base.AnyUniqueEtag``: the writer wants an identity, not a digest).

    ``deferred``: the file is made by the first call that writes (no system call here, so the object
    is built on the event loop), and ``hold`` keeps a small body's bytes until ``finish`` writes them
    with the record: a body that arrived whole costs one pool call (create, write, fsync, publish)
    instead of one per step.
    """

    def __init__(
        self,
        tmp_dir: str,
        *,
        hash_md5: bool = True,
        md5_from: Callable[[], str | None] | None = None,
        unique_etag: bool = False,
        writeback: bool = False,
        deferred: bool = False,
    ):
        self._tmp_dir = tmp_dir
        self.path = ""
        self._f: io.FileIO | None = None
        self._writeback_wanted = writeback
        self._writeback: Writeback | None = None
        self._held = b""
        #: ``md5_from``: the body computes the MD5 of what it hands over (``backends.base.body_md5``)
        self._md5_from = md5_from
        self._unique = base_unique_etag() if unique_etag else None
        self._md5 = hashlib.md5() if hash_md5 and md5_from is None and not unique_etag else None
        self.size = 0
        #: (stat, record JSON) of the finished file, for the listing index's row (``finish`` sets it)
        self.written: tuple[os.stat_result, bytes] | None = None
        if not deferred:
            self._open()

    def _open(self) -> io.FileIO:
        """Make the file: a name of this process's own temp directory (one per process, see fs tempdirs),
        so a counter makes it unique; ``O_EXCL`` still refuses to reuse a name left behind."""
        while True:
            path = os.path.join(self._tmp_dir, f"obj-{next(_TEMP_NAMES)}")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue
            break
        self.path = path
        self._f = f = io.FileIO(fd, "w", closefd=True)
        #: with ``writeback`` (set when the file will be fsynced) the disk writes start as data comes
        self._writeback = Writeback(fd) if self._writeback_wanted else None
        return f

    @property
    def opened(self) -> bool:
        """Whether the file exists yet (always, unless made ``deferred`` and nothing was written)."""
        return self._f is not None

    def hold(self, data: bytes) -> None:
        """Keep the body's last bytes (a small body's all) for ``finish`` to write with the record;
        no system call, so this runs on the event loop."""
        if self._md5 is not None:
            self._md5.update(data)
        self._held += data
        self.size += len(data)

    def _write_all(self, data: bytes) -> None:
        f = self._f or self._open()
        if self._held:  # held bytes first: joined to a small write (one system call), else on their own
            held, self._held = self._held, b""
            if len(held) + len(data) <= _JOIN_LIMIT:
                data = held + data
            else:
                _write_fully(f, held)
        _write_fully(f, data)

    def write(self, data: bytes) -> None:
        self._write_all(data)
        if self._md5 is not None:
            self._md5.update(data)
        self.size += len(data)
        if self._writeback is not None:
            self._writeback.written(self.size)

    def fileno(self) -> int:
        return (self._f or self._open()).fileno()

    def copy_from(self, fd: int, start: int, end: int, chunk: int) -> None:
        """Append bytes [start, end) of an open file."""
        pos = start
        while pos < end:
            data = os.pread(fd, min(chunk, end - pos), pos)
            if not data:
                raise CorruptObject("source file shorter than its record says")
            self.write(data)
            pos += len(data)

    @property
    def etag(self) -> str:
        """The ETag of what was written: its MD5, or the unique one this write was made with."""
        return self._unique if self._unique is not None else self.md5_hex

    @property
    def md5_hex(self) -> str:
        if self._md5_from is not None:
            value = self._md5_from()
            if value is None:
                raise RuntimeError("the body did not compute the MD5 it promised")
            return value
        if self._md5 is None:
            raise RuntimeError("md5_hex of a writer made with hash_md5=False")
        return self._md5.hexdigest()

    def finish(self, record: Record, fsync: bool) -> None:
        """Append the record and close; with ``fsync`` the bytes are on disk before any rename
        (``fdatasync``: the data and the size needed to read it back, without the timestamps)."""
        blob = record_bytes(record)
        self._write_all(blob + _FOOTER.pack(MAGIC, len(blob)))
        f = self._f or self._open()  # _write_all made it: for the type checker
        if fsync:
            os.fdatasync(f.fileno())
        self.written = (os.fstat(f.fileno()), blob)
        f.close()

    def discard(self) -> None:
        self._held = b""
        if self._f is None:
            return  # deferred and never made
        with contextlib.suppress(OSError):
            self._f.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
