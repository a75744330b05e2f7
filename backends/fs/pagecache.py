"""Listing pages kept while every directory they were read from stays as it was (fs dirstamps).

A page repeated (a client polling a prefix, a sync tool re-listing) is the same page while the files it
was built from are the same files. fs dirstamps gives the rule: an object file is never changed in place
(every write, retag, retention change and delete is a rename, link or unlink in its directory), so
while a settled directory's (inode, mtime, ctime) are what they were, every name in it is the file it
was. A page depends on the directories the walk read rows of (every directory it opened: a new or
removed subdirectory shows in its parent's stamp, so directories never opened need no watching):

- the stamp of each is taken before its rows are read (``IndexSource.entries``), so a change made
  during the walk gives a stamp that differs when the page is next asked for;
- a page is kept only when every such directory was settled (its last change ``SETTLED_NS`` old) and
  still there, and no row named a file that was gone (the index and the disk disagreed: the next walk
  cleans that up and is left to decide);
- a page is served only while a fresh ``stat`` of each of its directories gives the same settled stamp;
- a row removed from the index without its directory changing (a stale row cleaned up, see fs
  treeindex) drops the bucket's pages: a common prefix may have rolled up such a row.

The limits are those of fs dirstamps (one host; a file rewritten in place behind the gateway's back is
not seen, as it is not by a listing that trusts the stamps). Bounded: ``LIMIT`` listed entries in all,
the least recently used pages dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from backends.base import ListedPage
from backends.fs.dirstamps import DirStamps

#: Listed objects and common prefixes kept in all, across pages (ten full pages).
LIMIT = 10_000

#: A page's question: (bucket directory, prefix, delimiter, start after, max keys).
PageKey = tuple[str, str, str, str, int]
#: The directories a page was read from, each with its stamp (inode, mtime, ctime) then.
Depends = dict[str, tuple[int, int, int]]


class PageCache:
    """Pages by their question, each with the directories it depends on (blocking, thread-safe)."""

    def __init__(self, stamps: DirStamps, limit: int = LIMIT) -> None:
        self.stamps = stamps
        self.limit = limit
        self._lock = threading.Lock()
        self._pages: OrderedDict[PageKey, tuple[ListedPage, Depends]] = OrderedDict()
        self._count = 0
        self._epochs: dict[str, int] = {}

    def __len__(self) -> int:
        """Pages kept."""
        return len(self._pages)

    def epoch(self, bucket_dir: str) -> int:
        """Read before a walk and handed to ``put``: a page walked while ``forget`` ran is not kept."""
        with self._lock:
            return self._epochs.get(bucket_dir, 0)

    def get(self, key: PageKey) -> ListedPage | None:
        """The page kept for ``key`` if each directory it depends on is still settled and unchanged (a
        copy: the caller may change it)."""
        with self._lock:
            held = self._pages.get(key)
            if held is None:
                return None
            self._pages.move_to_end(key)
        page, depends = held
        for path, stamp in depends.items():
            known = self.stamps.known(path)
            if known is None or known.stamp != stamp:
                with self._lock:
                    if self._pages.get(key) is held:
                        self._drop(key)
                return None
        return ListedPage(list(page.objects), list(page.common_prefixes), page.is_truncated, page.next_marker)

    def put(self, key: PageKey, page: ListedPage, depends: Depends, epoch: int) -> None:
        """Keep ``page`` (a copy), walked after ``epoch`` was read."""
        size = _size(page)
        if size > self.limit:
            return
        kept = ListedPage(list(page.objects), list(page.common_prefixes), page.is_truncated, page.next_marker)
        with self._lock:
            if self._epochs.get(key[0], 0) != epoch:
                return
            if key in self._pages:
                self._drop(key)
            while self._pages and self._count + size > self.limit:
                self._drop(next(iter(self._pages)))
            self._pages[key] = (kept, dict(depends))
            self._count += size

    def forget(self, bucket_dir: str) -> None:
        """Drop every page of the bucket (its index lost rows its directories did not), and every page
        of it being walked meanwhile."""
        with self._lock:
            self._epochs[bucket_dir] = self._epochs.get(bucket_dir, 0) + 1
            for key in [k for k in self._pages if k[0] == bucket_dir]:
                self._drop(key)

    def _drop(self, key: PageKey) -> None:
        page, _ = self._pages.pop(key)
        self._count -= _size(page)


def _size(page: ListedPage) -> int:
    """What a page counts against the limit: its entries, and one for itself (an empty page too)."""
    return 1 + len(page.objects) + len(page.common_prefixes)
