"""A primary's listing page with the fallback journal's pending keys laid over it.

While the journal holds entries not yet replayed, the primary's listing is out of date for their keys:
a key written during the outage is missing, one overwritten shows the old size and ETag, one deleted is
still there. The page is corrected from the journal: pending puts are listed with the secondary's info,
pending deletes are hidden. Paging stays exact: a truncated page only takes pending keys up to its own
last entry (later ones belong to later pages), and a page grown past ``max_keys`` is cut and continues
after its new last entry.

Limit: a common prefix the primary lists is kept even when every key under it is a pending delete.
"""

from __future__ import annotations

from backends import errors as be
from backends.base import Backend, ListPage, ObjectInfo
from backends.composite.journal import Op


def rollup(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix a key is listed under, or None when it is listed as itself."""
    if delimiter:
        cut = key.find(delimiter, len(prefix))
        if cut >= 0:
            return key[: cut + len(delimiter)]
    return None


async def overlay(
    page: ListPage,
    pending: dict[str, Op],
    secondary: Backend,
    bucket: str,
    prefix: str,
    delimiter: str,
    start_after: str,
    max_keys: int,
) -> ListPage:
    """``page`` (the primary's answer to this listing request) corrected by the ``pending`` keys."""
    bound = page.next_marker if page.is_truncated else None
    objects: dict[str, ObjectInfo] = {o.key: o for o in page.objects}
    prefixes = set(page.common_prefixes)
    for key, op in sorted(pending.items()):
        common = rollup(key, prefix, delimiter)
        name = key if common is None else common
        if name <= start_after or (bound is not None and name > bound):
            continue
        if common is not None:  # a pending put makes the prefix appear, a delete cannot remove it
            if op == "put":
                prefixes.add(common)
            continue
        objects.pop(key, None)
        if op == "put":
            try:
                objects[key] = await secondary.head_object(bucket, key)
            except (be.NoSuchKey, be.NoSuchBucket):
                pass  # deleted again meanwhile: its tombstone is on its way
    names = sorted(set(objects) | prefixes)
    truncated, marker = page.is_truncated, page.next_marker
    if len(names) > max_keys:
        names, truncated = names[:max_keys], True
        marker = names[-1] if names else marker
    return ListPage(
        [objects[n] for n in names if n in objects],
        [n for n in names if n in prefixes and n not in objects],
        truncated,
        marker if truncated else None,
    )
