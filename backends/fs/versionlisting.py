"""Listing a bucket's versions (ListObjectVersions) on the filesystem backend, a page at a time.

The key walker of fs_listing, taught to see a key's versions directory (``v<name>``, see fs_versions)
as the key too, so a key whose latest version is a delete marker is listed although it has no object
file. Keys come out in S3 order without reading more of the bucket than the page needs; within a key,
versions are newest first, and only the versions directory of a key on the page is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from backends.base import VersionEntry, VersionsPage
from backends.fs.format import CorruptObject, read_record_at
from backends.fs.indexsource import IndexSource
from backends.fs.keys import unescape
from backends.fs.listing import KeyWalker, roll_up
from backends.fs.nameindex import BucketIndex
from backends.fs.versions import VERSIONS_KIND, KeyFiles, id_of


class VersionKeyWalker(KeyWalker):
    """Iterates (key, path of its object file or versions directory), each key once, in key order."""

    LETTERS = KeyWalker.LETTERS + VERSIONS_KIND

    def _classify(self, entry: os.DirEntry[str]) -> tuple[str, bool] | None:
        if entry.name.startswith(VERSIONS_KIND) and entry.is_dir(follow_symlinks=False):
            text = unescape(entry.name[1:])
            return None if text is None or "/" in text else (text, False)
        return super()._classify(entry)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        last = None
        for key, path in super().__iter__():
            if key != last:
                yield key, path
            last = key


def bucket_is_empty(bucket_dir: str) -> bool:
    """No object, version nor delete marker (S3 refuses to delete a bucket holding any)."""
    return next(iter(VersionKeyWalker(bucket_dir)), None) is None


def _entries(key: str, files: KeyFiles, after: str | None) -> Iterator[VersionEntry]:
    """The key's versions newest first, those after the version name ``after`` when given."""
    for index, (name, path) in enumerate(files.ordered()):
        if after is not None and name <= after:
            continue
        try:
            record = read_record_at(path)
        except (FileNotFoundError, CorruptObject):
            continue  # removed meanwhile
        info = record.object_info(key)
        info.version_id = id_of(name)
        yield VersionEntry(info, index == 0)


def _marker_name(files: KeyFiles, version_id: str) -> str | None:
    if version_id != "null":
        return version_id
    return next((name for name, _ in files.ordered() if name.endswith("n")), None)


def versions_page(
    bucket_dir: str,
    key_files: KeyFiles | None,
    prefix: str,
    delimiter: str,
    key_marker: str,
    version_id_marker: str,
    max_keys: int,
    index: BucketIndex | None = None,
) -> VersionsPage:
    """One page; ``key_files`` are the files of ``key_marker`` (where a version marker continues)."""
    versions: list[VersionEntry] = []
    prefixes: list[str] = []

    def full() -> bool:
        return len(versions) + len(prefixes) >= max_keys

    def truncated() -> VersionsPage:
        if prefixes and (not versions or prefixes[-1] > versions[-1].info.key):
            return VersionsPage(versions, prefixes, True, prefixes[-1], None)
        last = versions[-1].info
        return VersionsPage(versions, prefixes, True, last.key, last.version_id)

    if max_keys <= 0:
        return VersionsPage([], [], False)
    if key_files is not None and version_id_marker and key_marker.startswith(prefix):
        after = _marker_name(key_files, version_id_marker)
        for entry in _entries(key_marker, key_files, after) if after is not None else ():
            if full():
                return truncated()
            versions.append(entry)
    source = IndexSource(bucket_dir, index) if index is not None else None
    walker = VersionKeyWalker(bucket_dir, prefix, key_marker, limit=max_keys + 16, index=source)
    for key, path in walker:
        common = roll_up(key, prefix, delimiter)
        if common is not None:
            walker.skip(common)
            if common == key_marker or (prefixes and prefixes[-1] == common):
                continue
            if full():
                return truncated()
            prefixes.append(common)
            continue
        for entry in _entries(key, KeyFiles.beside(path), None):
            if full():
                return truncated()
            versions.append(entry)
    return VersionsPage(versions, prefixes, False)
