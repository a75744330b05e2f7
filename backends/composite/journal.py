"""The fallback's outage journal: what the secondary took while the primary could not, kept in the
secondary store itself so that every gateway replica reads and writes the same journal.

Hinted handoff, as Dynamo-style stores do it. Each write or delete that lands on the secondary in the
primary's place is recorded as two small objects in a reserved bucket of the secondary:

- ``<prefix>log/<id>``: the entry, JSON ``{"bucket", "key", "op"}``; ``id`` is a zero-padded
  nanosecond timestamp and a random suffix, so key order is time order and the reconciler replays the
  log by listing it;
- ``<prefix>idx/<bucket>/<escaped key>!/<id>.<op>``: an empty index object, so "has this key entries
  not yet replayed, and is the latest a put or a delete?" is one listing of one prefix, and a bucket
  listing can merge the pending keys under its prefix. In the escaped key ``!`` is doubled, so ``!/``
  ends the key and no key's index prefix is the prefix of another key's.

The data is written first, then the log entry, then the index entry; replay removes the index entry,
then the log entry. A crash between two steps leaves either an unacknowledged write nobody was promised,
or a log entry replayed again (replay is idempotent), or an index entry whose log entry is gone
(``orphans``), which the reconciler sweeps. An entry does not carry the object: replaying makes the
primary's copy of the key match the secondary's copy as it is now (see reconcile.py), so replays commute
and entries written by replicas whose clocks disagree still converge.

Limits: keys are journalled under a longer name, so a key within about 130 bytes of the secondary's key
limit (1024 bytes on S3) cannot be journalled and a write of it during an outage fails (503); listing a
bucket while its journal is not empty costs one more listing of the journal's index per page, and one
HEAD on the secondary per pending key on that page.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from backends import errors as be
from backends.base import ALWAYS, Backend, ObjectInfo, ObjectMeta, WriteCondition
from backends.composite.streams import StreamBody

Op = Literal["put", "delete"]
OPS: tuple[Op, ...] = ("put", "delete")
DEFAULT_BUCKET = "s3bridge-journal"

_INDEXED = re.compile(r"((?:[^!]|!!)*)!/(\d{20}-[0-9a-f]{8})\.(put|delete)", re.S)


def new_id(clock: Callable[[], float] = time.time) -> str:
    """A journal id: key order is time order (nanoseconds, zero-padded), the suffix breaks ties."""
    return f"{int(clock() * 1e9):020d}-{secrets.token_hex(4)}"


def id_time(entry_id: str) -> float:
    """The wall-clock time (seconds) an id was made at."""
    return int(entry_id[:20]) / 1e9


def escape(key: str) -> str:
    return key.replace("!", "!!")


@dataclass(frozen=True)
class Entry:
    id: str
    bucket: str
    key: str
    op: Op


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Journal:
    """The journal of one fallback, in ``bucket`` of ``store`` (the secondary), under ``prefix``."""

    def __init__(self, store: Backend, bucket: str = DEFAULT_BUCKET, prefix: str = ""):
        self.store = store
        self.bucket = bucket
        self.prefix = prefix

    # -- names -------------------------------------------------------------------------------------
    def _log(self, entry_id: str) -> str:
        return f"{self.prefix}log/{entry_id}"

    def _index_dir(self, bucket: str, key: str = "") -> str:
        return f"{self.prefix}idx/{bucket}/{escape(key)}"

    def _index(self, entry: Entry) -> str:
        return f"{self._index_dir(entry.bucket, entry.key)}!/{entry.id}.{entry.op}"

    # -- writing -----------------------------------------------------------------------------------
    async def ensure(self) -> None:
        """Create the journal's bucket on the store if it does not exist yet."""
        try:
            await self.store.create_bucket(self.bucket)
        except (be.BucketAlreadyOwnedByYou, be.BucketAlreadyExists):
            pass

    async def write(
        self, name: str, data: bytes, cond: WriteCondition = ALWAYS, user: dict[str, str] | None = None
    ) -> ObjectInfo:
        """Store ``data`` as ``name`` (``cond`` decided by the store; ``user`` metadata with it)."""
        meta = ObjectMeta("application/json", user=dict(user or {}))

        async def put() -> ObjectInfo:
            return await self.store.put_object(
                self.bucket, name, StreamBody(_body(data), len(data)), meta, cond
            )

        try:
            return await put()
        except be.NoSuchBucket:
            await self.ensure()
        return await put()

    async def record(self, bucket: str, key: str, op: Op) -> Entry:
        """Journal ``op`` on ``bucket/key``, which the store has already applied. Returns once the
        entry is durable in the store; raises the store's error otherwise."""
        entry = Entry(new_id(), bucket, key, op)
        doc = json.dumps({"bucket": bucket, "key": key, "op": op}).encode()
        await self.write(self._log(entry.id), doc)
        await self.write(self._index(entry), b"")
        return entry

    async def remove(self, entry: Entry) -> None:
        """Forget a replayed entry: its index first, so a key never looks settled while logged."""
        await self.discard(self._index(entry))
        await self.discard(self._log(entry.id))

    async def discard(self, name: str) -> None:
        try:
            await self.store.delete_object(self.bucket, name)
        except be.NoSuchBucket:
            pass

    # -- reading -----------------------------------------------------------------------------------
    async def names(self, prefix: str, limit: int | None = None) -> AsyncIterator[tuple[str, float]]:
        """Object names under ``prefix`` in key order (with their store timestamps), page by page."""
        after, seen = "", 0
        while limit is None or seen < limit:
            want = 1000 if limit is None else min(1000, limit - seen)
            try:
                page = await self.store.list_objects(self.bucket, prefix, start_after=after, max_keys=want)
            except be.NoSuchBucket:
                return
            for obj in page.objects:
                seen += 1
                yield obj.key, obj.last_modified.timestamp()
            if not page.is_truncated or not page.objects:
                return
            after = page.objects[-1].key

    async def pending(self, bucket: str, key: str) -> Op | None:
        """The latest op journalled on ``bucket/key`` and not replayed yet, or None."""
        latest: tuple[str, Op] | None = None
        async for name, _ in self.names(self._index_dir(bucket, key) + "!/"):
            found = self._parse(name, bucket)
            if found is not None and found[0] == key and (latest is None or found[1] > latest[0]):
                latest = (found[1], found[2])
        return None if latest is None else latest[1]

    async def pending_under(self, bucket: str, prefix: str) -> dict[str, Op]:
        """Every key of ``bucket`` starting with ``prefix`` that has entries not replayed yet, with its
        latest op."""
        latest: dict[str, tuple[str, Op]] = {}
        async for name, _ in self.names(self._index_dir(bucket, prefix)):
            found = self._parse(name, bucket)
            if found is None or not found[0].startswith(prefix):
                continue
            key, entry_id, op = found
            if key not in latest or entry_id > latest[key][0]:
                latest[key] = (entry_id, op)
        return {key: op for key, (_, op) in latest.items()}

    def _parse(self, name: str, bucket: str) -> tuple[str, str, Op] | None:
        """(key, id, op) of an index object's name, or None for a name the journal did not write."""
        match = _INDEXED.fullmatch(name[len(self._index_dir(bucket)) :])
        if match is None:
            return None
        op: Op = "put" if match.group(3) == "put" else "delete"
        return match.group(1).replace("!!", "!"), match.group(2), op

    async def entries(self, limit: int = 100) -> list[Entry]:
        """The oldest ``limit`` entries of the log, oldest first."""
        found: list[Entry] = []
        async for name, _ in self.names(f"{self.prefix}log/", limit):
            entry_id = name.rsplit("/", 1)[-1]
            try:
                got = await self.store.get_object(self.bucket, name)
                data = b"".join([chunk async for chunk in got.body])
            except be.NoSuchKey:
                continue  # replayed by another replica meanwhile
            doc = json.loads(data)
            op: Op = "delete" if doc["op"] == "delete" else "put"
            found.append(Entry(entry_id, doc["bucket"], doc["key"], op))
        return found

    async def stats(self) -> tuple[int, float | None]:
        """(entries in the log, age in seconds of the oldest, None when the log is empty)."""
        depth, oldest = 0, None
        async for name, _ in self.names(f"{self.prefix}log/"):
            if oldest is None:
                oldest = id_time(name.rsplit("/", 1)[-1])
            depth += 1
        return depth, None if oldest is None else max(0.0, time.time() - oldest)

    async def orphans(self) -> list[Entry]:
        """Index entries whose log entry is gone: a writer stopped between the two, or the log entry
        was replayed before its index entry landed. Their data is already where it should be."""
        found: list[Entry] = []
        async for name, _ in self.names(f"{self.prefix}idx/"):
            bucket = name[len(self.prefix) + 4 :].split("/", 1)[0]
            parsed = self._parse(name, bucket)
            if parsed is None:
                continue
            key, entry_id, op = parsed
            try:
                await self.store.head_object(self.bucket, self._log(entry_id))
            except be.NoSuchKey:
                found.append(Entry(entry_id, bucket, key, op))
        return found
