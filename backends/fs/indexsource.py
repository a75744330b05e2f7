"""A listing walker's directory entries read from the bucket's name index (fs nameindex), in key order
from the position the walk needs on, so a page reads about a page's worth of rows.

A directory holding keys relevant to ``prefix`` / after ``start_after`` has them at fragments from
``max(prefix rest, start_after rest)`` on, except the directories whose fragment is a proper prefix of
either (``a/`` when listing ``a/b``): at most one key directory (the first segment) and one continuation
directory (the first piece of a segment too long for one name) per bound, looked up by fragment. The
range scan stops at the first fragment past every key starting with the prefix.

Every row is a claim the disk confirms: a directory not verified since boot is scanned into the index
first; one that is gone is skipped and reported in ``stale``; object rows are checked by the page
builder (an ``lstat``), which uses the cached record a row holds (``cached``) while the file is still
the one the row described.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from backends.fs.dirstamps import DirStamps, Known
from backends.fs.keys import OBJ, split_segment, unescape
from backends.fs.nameindex import BucketIndex, RawRow, frag_text


def relevant(fragment: str, is_dir: bool, prefix: str, start_after: str) -> bool:
    """Whether an entry can hold a key of the listing: under ``prefix`` and after ``start_after``."""
    if is_dir:
        under_prefix = fragment.startswith(prefix) or prefix.startswith(fragment)
        return under_prefix and (fragment > start_after or start_after.startswith(fragment))
    return fragment.startswith(prefix) and fragment > start_after


def _rest(bound: str, fragment: str) -> str:
    """What of a key bound lies below a directory of fragment ``fragment`` ("" when it lies above it)."""
    return bound[len(fragment) :] if bound.startswith(fragment) else ""


def prefix_dirs(rest: str) -> list[str]:
    """Fragments of the directories a key starting with ``rest`` passes through that are proper
    prefixes of ``rest`` itself: its first segment's directory, its first continuation piece."""
    found = []
    cut = rest.find("/")
    if cut >= 0:
        found.append(rest[: cut + 1])
    segment = rest if cut < 0 else rest[:cut]
    pieces = split_segment(segment, OBJ)
    if len(pieces) > 1:
        text = unescape(pieces[0][1:])
        if text is not None:
            found.append(text)
    return found


@dataclass
class Stale:
    """A row whose name was gone from the disk: removed after the page, under the name's lock."""

    rel: str
    name: str
    path: str
    key: str | None  # the key of an object or versions row; None for a directory


#: An object row's cache handed to the page builder: the row, and what is remembered of its directory
#: (fs dirstamps; None when the directory is not trusted, and the file is ``lstat``-ed).
Hit = tuple[RawRow, Known | None]


@dataclass
class IndexSource:
    """One listing's view of a bucket's index (blocking calls, one thread)."""

    bucket_dir: str
    index: BucketIndex
    #: Which entry kinds the walker wants (set by the walker).
    letters: str = ""
    #: Where directories' stamps are kept (None: every file is ``lstat``-ed).
    stamps: DirStamps | None = None
    #: Object file path → its row's cache, for rows handed to the walker.
    cached: dict[str, Hit] = field(default_factory=dict)
    stale: list[Stale] = field(default_factory=list)
    #: Every directory whose rows were read, with its settled stamp, taken before its rows were read
    #: (fs pagecache); None once one was gone or not settled.
    depends: dict[str, tuple[int, int, int]] | None = field(default_factory=dict)

    def rel(self, path: str) -> str:
        return path[len(self.bucket_dir) + 1 :]

    def entries(
        self, prefix: str, start_after: str, fragment: str, path: str, after: tuple[str, int] | None
    ) -> Iterator[tuple[str, int, str]]:
        rel = self.rel(path)
        if self.index.verified(rel):
            if not os.path.isdir(path):
                self._gone_dir(path, fragment)
                return
        elif not self.index.verify(rel, path):
            self._gone_dir(path, fragment)
            return
        q_rest, s_rest = _rest(prefix, fragment), _rest(start_after, fragment)
        low = max(q_rest, s_rest, _rest(after[0], fragment) if after is not None else "")
        below = sorted({d for d in prefix_dirs(q_rest) + prefix_dirs(s_rest) if d < low})
        known = self.stamps.known(path) if self.stamps is not None else None
        if self.depends is not None:
            if known is None or self.depends.get(path, known.stamp) != known.stamp:
                self.depends = None
            else:
                self.depends[path] = known.stamp
        for raw in self.index.dirs_at(rel, below):
            entry = self._entry(raw, frag_text(raw), prefix, start_after, fragment, path, after, known)
            if entry is not None:
                yield entry
        cached = self.cached
        for raw in self.index.rows_from(rel, low, self.letters):
            frag = raw[0].decode("utf-8", "surrogatepass")
            if not frag.startswith(q_rest):
                return  # past every key under the prefix
            if raw[1] or after is not None:  # a directory, or a rescan: the general case
                entry = self._entry(raw, frag, prefix, start_after, fragment, path, after, known)
                if entry is not None:
                    yield entry
                continue
            # ``_entry`` written out for an object row, most of a page's rows
            full = fragment + frag
            if full > start_after and full.startswith(prefix):
                entry_path = f"{path}/{raw[2]}"
                if raw[6] is not None and raw[3] is not None:
                    cached[entry_path] = (raw, known)
                yield full, 0, entry_path

    def _entry(
        self,
        raw: RawRow,
        frag: str,
        prefix: str,
        start_after: str,
        fragment: str,
        path: str,
        after: tuple[str, int] | None,
        known: Known | None,
    ) -> tuple[str, int, str] | None:
        full = fragment + frag
        rank = raw[1]
        if after is not None and (full, rank) <= after:
            return None
        if not relevant(full, bool(rank), prefix, start_after):
            return None
        entry_path = f"{path}/{raw[2]}"
        if raw[6] is not None and raw[3] is not None:
            self.cached[entry_path] = (raw, known)
        return full, rank, entry_path

    def _gone_dir(self, path: str, fragment: str) -> None:
        self.depends = None
        if path != self.bucket_dir:
            parent, name = os.path.split(path)
            self.stale.append(Stale(self.rel(parent), name, path, None))
