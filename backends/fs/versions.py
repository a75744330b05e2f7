"""The filesystem backend's object versions: kept beside the current object, published by one rename.

Layout, for a key whose object file is ``<dir>/o<name>`` (see fs_keys)::

    <dir>/o<name>            the current version (absent when the latest is a delete marker)
    <dir>/v<name>/<vname>    the noncurrent versions and the delete markers, one file each

``v`` is a kind the key encoding never produces, so a versions directory never collides with an object
or a key directory, and the object listing walker skips it. Every file has the object format (fs_format);
its record says its version name (``meta["version"]``) and, for a delete marker, ``delete_marker``.

A version name is 16 hex digits of (2^64 - 1 - nanoseconds) then 16 random hex digits, so names sort
newest first; a null version's name ends in ``n``. The version id a client sees is the name, or
``null`` for a null version. An object written before its bucket was versioned has no name in its
record: it is the null version, named from its modification time.

Every change happens under the key's lock (fs_keylocks), and each step leaves a state a reader
understands: an overwrite first hard-links the current file into the versions directory under its own
name, then renames the new file over the current one (one atomic step for readers); a leftover link
of the current version after a crash is the current version itself and is ignored. Deleting the current
version renames the next one over it, again one step. The functions here are blocking.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from backends import errors as be
from backends.base import DeleteResult
from backends.fs.format import CorruptObject, Record, TempFile, read_record_at

VERSIONS_KIND = "v"
NULL_SUFFIX = "n"
_MAX = 2**64 - 1
_ID = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"[0-9a-f]{32}n?")


def valid_id(version_id: str) -> bool:
    return version_id == "null" or _ID.fullmatch(version_id) is not None


def check_id(version_id: str, backend: str) -> None:
    """An id this store could have made, else S3's InvalidArgument."""
    if not valid_id(version_id):
        raise be.InvalidArgument("Invalid version id specified", detail=version_id, backend=backend)


def id_of(name: str) -> str:
    """The version id a client sees for a version file name."""
    return "null" if name.endswith(NULL_SUFFIX) else name


def new_name(null: bool, newest: str | None) -> str:
    """A name sorting before (newer than) ``newest``, the newest name the key has."""
    stamp = _MAX - time.time_ns()
    if newest is not None:
        stamp = min(stamp, int(newest[:16], 16) - 1)
    return f"{stamp:016x}{secrets.token_hex(8)}" + (NULL_SUFFIX if null else "")


def record_name(record: Record) -> str:
    """The version name a record carries; an object from before versioning is the null version."""
    name = record.meta.get("version")
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    return f"{_MAX - record.mtime_ns:016x}{'0' * 16}{NULL_SUFFIX}"


def is_marker(record: Record) -> bool:
    return bool(record.meta.get("delete_marker"))


@dataclass
class KeyFiles:
    """The two places a key's versions live."""

    current: str
    versions: str

    @classmethod
    def of(cls, base: str, components: list[str]) -> KeyFiles:
        # Joined by hand: ``base`` is a bucket directory (no trailing separator) and every component is
        # a name key_components made (never empty, never absolute), so this is ``os.path.join``'s answer.
        parent = "/".join([base, *components[:-1]])
        leaf = components[-1][1:]
        return cls(f"{parent}/{components[-1]}", f"{parent}/{VERSIONS_KIND}{leaf}")

    @classmethod
    def beside(cls, path: str) -> KeyFiles:
        """From either file of a key (as the version walker yields it)."""
        parent, name = os.path.split(path)
        return cls(os.path.join(parent, "o" + name[1:]), os.path.join(parent, VERSIONS_KIND + name[1:]))

    def read_current(self) -> Record | None:
        try:
            return read_record_at(self.current)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def names(self) -> list[str]:
        """The versions directory's names, newest first (names only: records are read when needed)."""
        try:
            return sorted(n for n in os.listdir(self.versions) if _NAME.fullmatch(n))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def path(self, name: str) -> str:
        return os.path.join(self.versions, name)

    def find(self, version_id: str, names: list[str]) -> str | None:
        if version_id != "null":
            return version_id if version_id in names else None
        return next((n for n in names if n.endswith(NULL_SUFFIX)), None)

    def ordered(self) -> list[tuple[str, str]]:
        """(name, path) of every version and marker, newest first; the current file under its own name."""
        current = self.read_current()
        found = {n: self.path(n) for n in self.names()}
        if current is not None:
            found[record_name(current)] = self.current
        return sorted(found.items())

    def keep_current(self, current: Record) -> None:
        """Hard-link the current file into the versions directory under its own name."""
        self.make_versions_dir()
        with contextlib.suppress(FileExistsError):
            os.link(self.current, self.path(record_name(current)))

    def make_versions_dir(self) -> None:
        """In the key's directory, which must exist (the fs backend makes and announces key directories
        for the listing index; a ``makedirs`` here would make one behind its back)."""
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.versions)

    def drop_nulls(self, keep: str | None = None) -> None:
        """Remove noncurrent null versions (a new null version replaces the old, as on S3)."""
        for name in self.names():
            if name.endswith(NULL_SUFFIX) and name != keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(name))

    def promote_latest(self) -> bool:
        """After the current version went (or is going): rename the newest remaining version over the
        current file, unless the newest is a delete marker (then the key reads as deleted)."""
        names = self.names()
        if not names:
            return False
        try:
            newest = read_record_at(self.path(names[0]))
        except (FileNotFoundError, CorruptObject):
            return False
        if is_marker(newest):
            return False
        os.rename(self.path(names[0]), self.current)
        return True

    def prune(self) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(self.versions)


def newest_name(files: KeyFiles, current: Record | None) -> str | None:
    names = files.names()
    if current is not None:
        names.append(record_name(current))
    return min(names) if names else None


def latest_marker(files: KeyFiles) -> str | None:
    """The id of the delete marker that is the key's latest version, when the current file is absent."""
    names = files.names()
    if not names:
        return None
    try:
        record = read_record_at(files.path(names[0]))
    except (FileNotFoundError, CorruptObject):
        return None
    return id_of(names[0]) if is_marker(record) else None


def delete_version(files: KeyFiles, version_id: str) -> DeleteResult:
    """Remove one version for good (under the key lock); a missing one is success, as on S3."""
    current = files.read_current()
    if current is not None and id_of(record_name(current)) == version_id:
        name = record_name(current)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.path(name))  # a leftover link of the current version
        if not files.promote_latest():
            os.unlink(files.current)
        files.prune()
        return DeleteResult(version_id, False)
    names = files.names()
    found = files.find(version_id, names)
    if found is None:
        return DeleteResult(version_id, False)
    try:
        marker = is_marker(read_record_at(files.path(found)))
    except CorruptObject:
        marker = False
    was_latest = current is None and found == names[0]
    os.unlink(files.path(found))
    if was_latest:
        files.promote_latest()
    files.prune()
    return DeleteResult(version_id, marker)


def publish(
    files: KeyFiles, temp: TempFile, record: Record, status: str, fsync: bool, rename: Callable[[], None]
) -> None:
    """Publish a new version (under the key lock): name it, keep the current one as noncurrent (unless
    a null version replaces a null one, as while suspended), then ``rename`` the temp file into place."""
    current = files.read_current()
    null = status == "Suspended"
    name = new_name(null, newest_name(files, current))
    record.meta["version"] = name
    temp.finish(record, fsync)
    if current is not None and not (null and record_name(current).endswith(NULL_SUFFIX)):
        files.keep_current(current)
    rename()
    if null:
        files.drop_nulls()


def mark_deleted(files: KeyFiles, status: str, tmp_dir: str, fsync: bool) -> DeleteResult:
    """DeleteObject without a version in a versioned bucket (under the key lock): a delete marker
    becomes the latest version; while suspended it is the null version and replaces the old null."""
    current = files.read_current()
    null = status == "Suspended"
    name = new_name(null, newest_name(files, current))
    if current is not None and not (null and record_name(current).endswith(NULL_SUFFIX)):
        files.keep_current(current)
    files.make_versions_dir()
    temp = TempFile(tmp_dir)
    try:
        temp.finish(Record("", time.time_ns(), {"version": name, "delete_marker": True}), fsync)
        os.rename(temp.path, files.path(name))
    except BaseException:
        temp.discard()
        raise
    if current is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.current)
    if null:
        files.drop_nulls(keep=name)
    return DeleteResult(id_of(name), True)


def version_path(files: KeyFiles, version_id: str | None, status: str | None, backend: str) -> str:
    """The file holding the version a read names (the current one when None), or the S3 error: the
    latest is a delete marker, the id is malformed, or no such version exists."""
    if version_id is None:
        if status is not None and not os.path.exists(files.current):
            marker = latest_marker(files)
            if marker is not None:
                raise be.DeleteMarkerCurrent(
                    marker, detail="the latest version is a delete marker", backend=backend
                )
        return files.current
    check_id(version_id, backend)
    try:
        current = files.read_current()
    except CorruptObject:
        current = None
    if current is not None and id_of(record_name(current)) == version_id:
        return files.current
    name = files.find(version_id, files.names())
    if name is None:
        raise be.NoSuchVersion(detail=version_id, backend=backend)
    return files.path(name)
