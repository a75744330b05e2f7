"""Keeping the listing index (fs nameindex) a superset of the bucket trees, and listing through it.

The rules, each tied to the lock that orders it against the opposite change:

- an object file (``o``) or versions directory (``v``) row is added before the file or directory can
  appear, and removed only once it is gone, both under the key's lock (fs keylocks), which every
  publish and every versions change already holds;
- a key directory (``d``/``c``) row is added before its ``mkdir`` and removed only after its ``rmdir``,
  both under that directory's lock (striped like the key locks, a set of their own: a writer holding a
  key lock takes a directory lock, never the other way round). Every ``mkdir`` in a bucket tree goes
  through ``make_parents`` and every ``rmdir`` of a key directory through ``prune``, so no directory
  appears without its row.

A listing meets a row whose name is gone (a crash after the row was added, a delete's cleanup that did
not run): ``clean`` removes it under the same locks, after checking again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from backends.base import Listed, ListedPage, ListPage, ObjectInfo
from backends.fs.dirstamps import DirStamps
from backends.fs.format import (
    CorruptObject,
    Record,
    light_from_blob,
    listed_from_blob,
    listed_light,
    read_record_and_blob,
)
from backends.fs.indexsource import IndexSource, Stale
from backends.fs.keylocks import KeyLocks
from backends.fs.listing import KeyWalker, list_page
from backends.fs.nameindex import VERSIONS, BucketIndex, Cached, NameIndexes
from backends.fs.pagecache import Depends, PageCache

#: What a page lists an object as: an ObjectInfo, or its light form (Listed).
Item = TypeVar("Item", ObjectInfo, Listed)


@dataclass
class _Page(Generic[Item]):
    objects: list[Item]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None


def _info(key: str, record: Record) -> ObjectInfo:
    return record.listed_info(key)


def _light(key: str, record: Record) -> Listed:
    return listed_light(key, record.size, record.etag, record.mtime_ns, record.meta)


def _add(ix: BucketIndex, rel: str, names: list[str]) -> None:
    ix.add(rel, names)


def _mark_verified(ix: BucketIndex, rel: str) -> None:
    ix.mark_verified(rel)


def _clear(ix: BucketIndex) -> None:
    with ix.transaction():
        ix.conn.execute("DELETE FROM entries")
        ix.conn.execute("DELETE FROM dirs")


def _remove(ix: BucketIndex, rel: str, name: str) -> None:
    ix.remove(rel, name)


def rel_of(components: list[str]) -> str:
    """The relative directory of a key's first ``n`` components ("" for the bucket directory)."""
    return os.path.join(*components) if components else ""


class TreeIndex:
    def __init__(self, state_dir: str, key_locks: KeyLocks, fsync_dir: Callable[[str], None]):
        self.indexes = NameIndexes(os.path.join(state_dir, "index"))
        self.key_locks = key_locks
        self.dir_locks = KeyLocks(os.path.join(state_dir, "dirlocks"))
        self.fsync_dir = fsync_dir
        self.stamps = DirStamps()
        self.pages = PageCache(self.stamps)

    # -- writes (blocking) -----------------------------------------------------------------------
    def make_parents(self, base: str, components: list[str]) -> str:
        """The key's parent directory, making the missing ones (each announced first, under its lock;
        the new directory's own parent is fsynced after)."""
        parent = base
        for depth, name in enumerate(components[:-1]):
            child = os.path.join(parent, name)
            if not os.path.isdir(child):
                rel = rel_of(components[:depth])
                child_rel = rel_of(components[: depth + 1])
                with self.dir_locks.hold(base, child_rel):
                    self.indexes.call(base, partial(_add, rel=rel, names=[name]))
                    made = False
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(child)
                        made = True
                    if made:  # empty, and whatever lands in it is announced first: nothing to scan
                        self.indexes.call(base, partial(_mark_verified, rel=child_rel))
                if made:
                    self.fsync_dir(parent)
            parent = child
        return parent

    def new_bucket(self, base: str) -> None:
        """Before a bucket directory is made: the index a deleted bucket of that name left (rows for
        names that went) is emptied, every directory unverified (so should the bucket exist after all,
        made by a concurrent create, its listings scan it again)."""
        self.indexes.call(base, _clear)

    def made_bucket(self, base: str) -> None:
        """After this process made the bucket directory, empty: nothing to scan."""
        self.indexes.call(base, partial(_mark_verified, rel=""))

    def announce_object(
        self,
        base: str,
        components: list[str],
        path: str,
        written: tuple[os.stat_result, bytes] | None = None,
    ) -> int | None:
        """Before the rename that publishes ``path`` as the key's object file (under its lock); returns
        the index file written, for ``confirm_object``. ``written``: the file's stat and record JSON as
        its writer knows them (else read from the file)."""
        if written is None:
            _, st, blob = read_record_and_blob(path)
        else:
            st, blob = written
        rel = rel_of(components[:-1])
        self.indexes.call(base, lambda ix: ix.put_object(rel, components[-1], st, blob))
        return self.indexes.held(base)

    def confirm_object(self, base: str, components: list[str], announced_in: int | None) -> None:
        """After the rename: if the index was replaced meanwhile (moved aside as damaged, or the bucket
        deleted and made again), the new one may have been verified without this object: announce it
        there too."""
        if self.indexes.generation(base) != announced_in:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                self.announce_object(base, components, os.path.join(base, *components))

    def announce_versions(self, base: str, components: list[str]) -> None:
        """Before a versions change (under the key's lock): it may make the versions directory or
        rename a version over the object file."""
        names = [components[-1], VERSIONS + components[-1][1:]]
        self.indexes.call(base, lambda ix: ix.add(rel_of(components[:-1]), names))

    def forget_key(self, bucket: str, key: str, base: str, components: list[str]) -> None:
        """After a delete: drop the key's rows whose names are gone (takes the key's lock)."""
        rel = rel_of(components[:-1])
        names = [components[-1], VERSIONS + components[-1][1:]]
        parent = os.path.join(base, rel)
        with self.key_locks.hold(bucket, key):
            gone = [n for n in names if not os.path.lexists(os.path.join(parent, n))]
            for name in gone:
                self.indexes.call(base, partial(_remove, rel=rel, name=name))

    def prune(self, base: str, components: list[str]) -> None:
        """Remove the key directories a delete left empty, deepest first, and their rows."""
        for depth in range(len(components) - 1, 0, -1):
            rel = rel_of(components[:depth])
            with self.dir_locks.hold(base, rel):
                try:
                    os.rmdir(os.path.join(base, rel))
                except OSError:
                    return
                parent, name = rel_of(components[: depth - 1]), components[depth - 1]
                self.indexes.call(base, partial(_remove, rel=parent, name=name))

    # -- listings (blocking) ---------------------------------------------------------------------
    def objects_page(
        self, bucket: str, base: str, prefix: str, delimiter: str, start_after: str, max_keys: int
    ) -> ListPage:
        """One ListObjects page through the index (see ``light_page``), each object an ObjectInfo."""
        page, _ = self._page(bucket, base, prefix, delimiter, start_after, max_keys, listed_from_blob, _info)
        return ListPage(page.objects, page.common_prefixes, page.is_truncated, page.next_marker)

    def light_page(
        self, bucket: str, base: str, prefix: str, delimiter: str, start_after: str, max_keys: int
    ) -> ListedPage:
        """One ListObjects page through the index, in the light form: rows from the position on, each
        object checked with an ``lstat`` and described from its row's cached record while that still
        is the file; or the same page kept from before, while its directories are as they were then
        (fs pagecache)."""
        question = (base, prefix, delimiter, start_after, max_keys)
        kept = self.pages.get(question)
        if kept is not None:
            return kept
        epoch = self.pages.epoch(base)
        page, depends = self._page(
            bucket, base, prefix, delimiter, start_after, max_keys, light_from_blob, _light
        )
        light = ListedPage(page.objects, page.common_prefixes, page.is_truncated, page.next_marker)
        if depends is not None:
            self.pages.put(question, light, depends, epoch)
        return light

    def _page(
        self,
        bucket: str,
        base: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        from_blob: Callable[[str, bytes, int], Item],
        from_record: Callable[[str, Record], Item],
    ) -> tuple[_Page[Item], Depends | None]:
        """The page, and the directories it depends on when it may be kept (fs pagecache)."""

        def attempt(ix: BucketIndex) -> tuple[_Page[Item], IndexSource, list[tuple[str, Cached]]]:
            source = IndexSource(base, ix, stamps=self.stamps)
            # A page's worth (+1 for "truncated", +some for vanished objects) per directory.
            walker = KeyWalker(base, prefix, start_after, limit=max_keys + 16, index=source)
            infos: dict[str, Item] = {}
            read: list[tuple[str, Cached]] = []
            pop_cached, stat = source.cached.pop, self.stamps.lstat

            def gone(key: str, path: str) -> bool:
                parent, name = os.path.split(path)
                source.stale.append(Stale(source.rel(parent), name, path, key))
                return False

            def keep(key: str, path: str) -> bool:
                hit = pop_cached(path, None)
                if hit is not None:
                    raw, known = hit
                    # What the directory's stamp remembers of the file (fs dirstamps), else an lstat.
                    files, name = known.files if known is not None else None, raw[2]
                    seen = files[name] if files is not None and name in files else stat(known, name, path)
                    if seen is None:
                        return gone(key, path)
                    if seen[0] == raw[3] and seen[1] == raw[4] and seen[2] == raw[5]:
                        try:
                            infos[key] = from_blob(key, raw[6], seen[1])  # type: ignore[arg-type]
                            return True
                        except CorruptObject:
                            pass  # read from the file below
                try:
                    record, st, blob = read_record_and_blob(path)
                except (FileNotFoundError, NotADirectoryError):
                    return gone(key, path)
                except CorruptObject:
                    return False  # not ours
                read.append((path, Cached(st.st_ino, st.st_size, st.st_mtime_ns, blob)))
                infos[key] = from_record(key, record)
                return True

            result = list_page(walker, prefix, delimiter, start_after, max_keys, keep)
            objects = [infos[name] for name, path in result.entries if path is not None]
            prefixes = [name for name, path in result.entries if path is None]
            return _Page(objects, prefixes, result.is_truncated, result.next_marker), source, read

        page, source, read = self.indexes.call(base, attempt)
        depends = source.depends if not source.stale else None
        self.remember(source, read)
        self.clean(bucket, source)
        return page, depends

    def clean(self, bucket: str, source: IndexSource) -> None:
        """Remove the rows a listing found stale, each under its name's lock, if still gone (and the
        bucket's kept pages: a row goes without its directory changing)."""
        for stale in source.stale:
            if stale.key is not None:
                with self.key_locks.hold(bucket, stale.key):
                    self._remove_if_gone(source, stale)
            else:
                with self.dir_locks.hold(source.bucket_dir, source.rel(stale.path)):
                    self._remove_if_gone(source, stale)
        if source.stale:
            self.pages.forget(source.bucket_dir)
        source.stale.clear()

    def _remove_if_gone(self, source: IndexSource, stale: Stale) -> None:
        if not os.path.lexists(stale.path):
            self.indexes.call(source.bucket_dir, lambda ix: ix.remove(stale.rel, stale.name))

    def remember(self, source: IndexSource, read: list[tuple[str, Cached]]) -> None:
        """Cache the records a listing had to read from their files."""
        if not read:
            return

        def write(ix: object) -> None:
            with source.index.transaction():
                for path, cached in read:
                    parent, name = os.path.split(path)
                    source.index.remember(source.rel(parent), name, cached)

        self.indexes.call(source.bucket_dir, write)
