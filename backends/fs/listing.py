"""Listing a bucket directory in S3 key order without reading more of it than a page needs.

Encoded names do not sort like keys (``a/`` is a directory ``da``, ``a-b`` a file ``oa-b``), so the
walker is a best-first merge: a heap holds files by key and directories by the key prefix they stand
for. A directory's prefix is a lower bound of every key below it, so a directory is opened only when
it is the smallest thing left, and the keys come out in UTF-8 binary order (which is code point order
for Python strings). Directories that cannot hold a key after ``start_after`` or under ``prefix`` are
never opened, and a common prefix rolled up by a delimiter discards its whole subtree unopened.
Only names are read while walking; the record of an object is read when it makes the page.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from backends.fs.keys import OBJ, parse_component


def _relevant(fragment: str, is_dir: bool, prefix: str, start_after: str) -> bool:
    if is_dir:
        under_prefix = fragment.startswith(prefix) or prefix.startswith(fragment)
        return under_prefix and (fragment > start_after or start_after.startswith(fragment))
    return fragment.startswith(prefix) and fragment > start_after


class KeyWalker:
    """Iterates (key, file path) in key order; ``skip(p)`` drops everything still to come under ``p``."""

    def __init__(self, bucket_dir: str, prefix: str = "", start_after: str = ""):
        self.prefix = prefix
        self.start_after = start_after
        self._skip: str | None = None
        # (key or prefix, 0 for a file / 1 for a directory, path): a file sorts before a directory
        # whose prefix equals its key, because the directory's keys are all longer.
        self._heap: list[tuple[str, int, str]] = [("", 1, bucket_dir)]

    def skip(self, prefix: str) -> None:
        self._skip = prefix

    def _open(self, fragment: str, path: str) -> None:
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            return  # removed while we walked: nothing below it any more
        for entry in entries:
            classified = self._classify(entry)
            if classified is None:
                continue
            text, is_dir = classified
            full = fragment + text
            if _relevant(full, is_dir, self.prefix, self.start_after):
                heapq.heappush(self._heap, (full, int(is_dir), entry.path))

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
        while self._heap:
            fragment, is_dir, path = heapq.heappop(self._heap)
            if self._skip is not None and fragment.startswith(self._skip):
                continue
            if is_dir:
                self._open(fragment, path)
            else:
                yield fragment, path


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
