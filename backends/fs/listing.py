"""Listing a bucket directory in S3 key order without reading more of it than a page needs.

Encoded names do not sort like keys (``a/`` is a directory ``da``, ``a-b`` a file ``oa-b``), so the
walker is a best-first merge: a heap holds files by key and directories by the key prefix they stand
for. A directory's prefix is a lower bound of every key below it, so a directory is opened only when
it is the smallest thing left, and the keys come out in UTF-8 binary order (which is code point order
for Python strings). Directories that cannot hold a key after ``start_after`` or under ``prefix`` are
never opened, and a common prefix rolled up by a delimiter discards its whole subtree unopened.
Only names are read while walking; the record of an object is read when it makes the page.

With a ``limit`` (a page's worth), one directory contributes at most that many entries to the heap, the
smallest ones; when it holds more, a continuation entry keyed by the last one kept stands for the rest
and rescans the directory for what lies beyond it only if the walk gets that far. So a page of a
directory of a million keys holds a page's worth of names in memory, not a million (the scan itself
still reads every name: the filesystem returns them in hash order).

A directory's kept entries come sorted, so they enter the heap as one run (``Run``): only its next
entry is in the heap, and entries are taken from the run directly while they come before everything
else in the heap. A page of one directory is then a walk down a list, not a push and a pop per key.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from backends.fs.indexsource import IndexSource, relevant
from backends.fs.keys import OBJ, parse_component

#: Heap kind of a directory's remaining entries (see KeyWalker).
CONTINUE = 2
#: Where a directory's scan resumes: its key fragment, and the last (key, kind) already taken from it.
Resume = tuple[str, tuple[str, int]]
#: A directory entry: (key or key prefix, kind: 0 a file, 1 a directory to open, path).
Entry = tuple[str, int, str]


class Run:
    """A directory's kept entries, sorted, and how many of them were taken (see ``KeyWalker``)."""

    __slots__ = ("entries", "taken")

    def __init__(self, entries: list[Entry], taken: int = 0) -> None:
        self.entries = entries
        self.taken = taken

    def __lt__(self, other: object) -> bool:
        # Reached only when two heap items agree on key, kind and path, which no walk produces; an
        # order keeps the heap working regardless.
        return id(self) < id(other)


class KeyWalker:
    """Iterates (key, file path) in key order; ``skip(p)`` drops everything still to come under ``p``.

    With ``index`` (fs nameindex) a directory's entries come from its sorted rows, from the position
    the walk needs on; without, from a scan of the directory (what a bucket being deleted uses)."""

    #: The entry kinds this walker sees: object files, key directories, continuation directories.
    LETTERS = "odc"

    def __init__(
        self,
        bucket_dir: str,
        prefix: str = "",
        start_after: str = "",
        limit: int | None = None,
        index: IndexSource | None = None,
    ):
        self.prefix = prefix
        self.start_after = start_after
        self.limit = limit
        self.index = index
        if index is not None:
            index.letters = self.LETTERS
        self._skip: str | None = None
        # (key or prefix, kind, path, more): kind 0 a file, 1 a directory, 2 (CONTINUE) the rest of a
        # directory, whose ``more`` is its resume (the directory's fragment, the last (key, kind) taken
        # from it); for a file or directory ``more`` is None, or the Run it is the next entry of.
        # A file sorts before a directory whose prefix equals its key: the directory's keys are longer.
        self._heap: list[tuple[str, int, str, Resume | Run | None]] = [("", 1, bucket_dir, None)]

    def skip(self, prefix: str) -> None:
        self._skip = prefix

    def _entries(
        self, fragment: str, path: str, after: tuple[str, int] | None
    ) -> Iterator[tuple[str, int, str]]:
        if self.index is not None:
            yield from self.index.entries(self.prefix, self.start_after, fragment, path, after)
            return
        try:
            with os.scandir(path) as scan:
                for entry in scan:
                    classified = self._classify(entry)
                    if classified is None:
                        continue
                    text, is_dir = classified
                    full = fragment + text
                    if after is not None and (full, int(is_dir)) <= after:
                        continue
                    if relevant(full, is_dir, self.prefix, self.start_after):
                        yield full, int(is_dir), entry.path
        except (FileNotFoundError, NotADirectoryError):
            return  # removed while we walked: nothing below it any more

    def _open(self, fragment: str, path: str, after: tuple[str, int] | None = None) -> None:
        entries = self._entries(fragment, path, after)
        if self.limit is None:
            for full, kind, entry_path in entries:
                heapq.heappush(self._heap, (full, kind, entry_path, None))
            return
        # One more than the limit tells whether anything is left beyond the kept ones; the index's
        # entries come sorted, a scan's in hash order.
        wanted = self.limit + 1
        if self.index is not None:
            kept = list(islice(entries, wanted))
            kept.sort()  # sorted already (linear then): the run's order must not rest on SQL's
        else:
            kept = heapq.nsmallest(wanted, entries)
        if len(kept) > self.limit:
            kept.pop()
            last_full, last_kind, _ = kept[-1]
            heapq.heappush(self._heap, (last_full, CONTINUE, path, (fragment, (last_full, last_kind))))
        if kept:
            full, kind, entry_path = kept[0]
            heapq.heappush(self._heap, (full, kind, entry_path, Run(kept)))

    def _classify(self, entry: os.DirEntry[str]) -> tuple[str, bool] | None:
        """(key fragment, is a directory to open) of a directory entry, None to pass it by."""
        parsed = parse_component(entry.name)
        if parsed is None:
            return None
        kind, text = parsed
        is_dir = kind != OBJ
        if is_dir != entry.is_dir(follow_symlinks=False):
            return None
        return text, is_dir

    def __iter__(self) -> Iterator[tuple[str, str]]:
        heap, pop, push = self._heap, heapq.heappop, heapq.heappush
        while heap:
            fragment, kind, path, more = pop(heap)
            if kind == CONTINUE:
                if isinstance(more, tuple):
                    # Siblings beyond the last one taken are not under the skipped prefix merely because
                    # it is: a continuation is never skipped.
                    self._open(more[0], path, more[1])
                continue
            if not isinstance(more, Run):
                if self._skip is None or not fragment.startswith(self._skip):
                    if kind:
                        self._open(fragment, path)
                    else:
                        yield fragment, path
                continue
            # A run: its entries in order, while each comes before the smallest item of the heap.
            entries, taken = more.entries, more.taken
            count = len(entries)
            while True:
                if self._skip is None or not fragment.startswith(self._skip):
                    if kind:
                        self._open(fragment, path)
                    else:
                        yield fragment, path
                taken += 1
                if taken == count:
                    break
                fragment, kind, path = entries[taken]
                if heap and heap[0] < (fragment, kind, path):
                    more.taken = taken
                    push(heap, (fragment, kind, path, more))
                    break


@dataclass
class Page:
    entries: list[tuple[str, str | None]]  # (key, path) for objects, (common prefix, None) for prefixes
    is_truncated: bool
    next_marker: str | None


def roll_up(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix a key rolls up into, or None when it is listed as itself."""
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return None if cut < 0 else key[: cut + len(delimiter)]


def list_page(
    keys: Iterator[tuple[str, str]] | KeyWalker,
    prefix: str,
    delimiter: str,
    start_after: str,
    max_keys: int,
    keep: Callable[[str, str], bool] = lambda key, path: True,
) -> Page:
    """One page of (key, path) / (common prefix, None) entries; ``keep`` drops objects that vanished.

    A common prefix equal to ``start_after`` was the previous page's last entry and is not repeated.
    """
    entries: list[tuple[str, str | None]] = []
    if max_keys <= 0:
        return Page(entries, False, None)
    for key, path in keys:
        common = roll_up(key, prefix, delimiter)
        if common is not None:
            if isinstance(keys, KeyWalker):
                keys.skip(common)
            if common == start_after or (entries and entries[-1][0] == common):
                continue
        elif not keep(key, path):
            continue
        if len(entries) == max_keys:
            return Page(entries, True, entries[-1][0])
        entries.append((common, None) if common is not None else (key, path))
    return Page(entries, False, None)
