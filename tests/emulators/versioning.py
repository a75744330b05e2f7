"""The emulators' object versions, as the S3 family (S3, OSS, OBS) defines them; dialect-neutral.

A bucket's ``extra["versioning"]`` is None (never versioned), ``Enabled`` or ``Suspended``. The current
object stays in ``BucketRecord.objects`` (so plain listings are unchanged); noncurrent versions and
delete markers are in ``extra["history"][key]``, newest first. A key whose latest version is a delete
marker has no current object and a marker at the head of its history. Version ids are
``ObjectRecord.extra["version_id"]`` (absent: the ``null`` version). Callers hold the store's lock.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.emulators.core import EmulatorError, Request, Response, parse_xml

NULL = "null"


def status(extra: dict[str, Any]) -> str | None:
    return extra.get("versioning")


def version_of(record: Any) -> str:
    return str(record.extra.get("version_id") or NULL)


def is_marker(record: Any) -> bool:
    return bool(record.extra.get("delete_marker"))


def history(extra: dict[str, Any], key: str) -> list[Any]:
    return extra.setdefault("history", {}).setdefault(key, [])


def has_versions(extra: dict[str, Any]) -> bool:
    return any(extra.get("history", {}).values())


def new_id() -> str:
    """An opaque id of 32 characters (OBS documents that length; OSS's are of that order), sortable by
    time (as providers' ids are not, which clients must not assume)."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}".upper()


def _discard(record: Any) -> None:
    if not is_marker(record):
        record.path.unlink(missing_ok=True)


def retire_current(b: Any, key: str) -> None:
    """Before a new latest version (object or marker) of ``key``: keep the current one as noncurrent,
    except that a null version replaces the null one while suspended (as S3)."""
    suspended = status(b.extra) == "Suspended"
    old = b.objects.pop(key, None)
    past = history(b.extra, key)
    if suspended:
        for rec in [r for r in past if version_of(r) == NULL]:
            past.remove(rec)
            _discard(rec)
    if old is None:
        return
    if suspended and version_of(old) == NULL:
        _discard(old)
    else:
        past.insert(0, old)


def stamp(b: Any, record: Any) -> None:
    """Give a new record its version id (none in a bucket never versioned, null while suspended)."""
    if status(b.extra) == "Enabled":
        record.extra["version_id"] = new_id()
    else:
        record.extra.pop("version_id", None)


def add_marker(b: Any, key: str, record_type: Any) -> Any:
    """DeleteObject without a version in a versioned bucket: a delete marker becomes the latest."""
    retire_current(b, key)
    marker = record_type(key, 0, "", time.time(), Path("/nonexistent"), {}, {"delete_marker": True})
    stamp(b, marker)
    history(b.extra, key).insert(0, marker)
    return marker


def find(b: Any, key: str, version_id: str) -> Any | None:
    current = b.objects.get(key)
    if current is not None and version_of(current) == version_id:
        return current
    return next((r for r in history(b.extra, key) if version_of(r) == version_id), None)


def remove(b: Any, key: str, version_id: str) -> Any | None:
    """Remove one version for good; the newest remaining becomes current unless it is a marker."""
    found = find(b, key, version_id)
    if found is None:
        return None
    if b.objects.get(key) is found:
        del b.objects[key]
    else:
        history(b.extra, key).remove(found)
    _discard(found)
    past = history(b.extra, key)
    if key not in b.objects and past and not is_marker(past[0]):
        b.objects[key] = past.pop(0)
    return found


def latest_marker(b: Any, key: str) -> Any | None:
    past = b.extra.get("history", {}).get(key) or []
    return past[0] if key not in b.objects and past and is_marker(past[0]) else None


def every_version(b: Any) -> list[tuple[str, Any, bool]]:
    """(key, record, is latest) for every version and marker, per key newest first, keys unordered."""
    out: list[tuple[str, Any, bool]] = []
    keys = set(b.objects) | {k for k, v in b.extra.get("history", {}).items() if v}
    for key in keys:
        chain = ([b.objects[key]] if key in b.objects else []) + list(b.extra.get("history", {}).get(key, []))
        out += [(key, rec, i == 0) for i, rec in enumerate(chain)]
    return out


def check_status(value: str | None) -> str:
    if value not in ("Enabled", "Suspended"):
        raise EmulatorError(400, "MalformedXML", "The XML you provided was not well-formed.")
    return value


Entry = tuple[str, Any, bool]


@dataclass
class Page:
    """One page of a version listing: entries, common prefixes, and where the next page starts."""

    listed: list[Entry]
    prefixes: list[str]
    truncated: bool
    next_key: str | None = None
    next_id: str | None = None


def page(
    entries: list[Entry], prefix: str, delimiter: str, key_marker: str, id_marker: str, max_keys: int
) -> Page:
    """ListObjectVersions over ``entries`` (key order, each key newest first), as the S3 family pages it:
    after (key marker, version id marker), common prefixes counted with versions against max-keys."""
    entries = [e for e in entries if e[0].startswith(prefix)]
    if key_marker:
        entries = _after(entries, key_marker, id_marker)
    listed: list[Entry] = []
    prefixes: list[str] = []
    truncated = False
    for key, rec, latest in entries:
        rolled = _rollup(key, prefix, delimiter)
        if rolled is not None and (rolled in prefixes or rolled <= key_marker):
            continue
        if len(listed) + len(prefixes) == max_keys:
            truncated = True
            break
        if rolled is not None:
            prefixes.append(rolled)
        else:
            listed.append((key, rec, latest))
    out = Page(listed, prefixes, truncated)
    if truncated:
        if prefixes and (not listed or prefixes[-1] > listed[-1][0]):
            out.next_key, out.next_id = prefixes[-1], ""
        else:
            out.next_key, out.next_id = listed[-1][0], version_of(listed[-1][1])
    return out


def _after(entries: list[Entry], key_marker: str, id_marker: str) -> list[Entry]:
    """The entries after (key marker, version id marker); without an id, after every version of the key."""
    out: list[Entry] = []
    passed = False
    for key, rec, latest in entries:
        if key < key_marker or (key == key_marker and not id_marker):
            continue
        if key == key_marker and not passed:
            passed = version_of(rec) == id_marker
            continue
        out.append((key, rec, latest))
    return out


def _rollup(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return key[: cut + len(delimiter)] if cut >= 0 else None


@dataclass(frozen=True)
class Dialect:
    """How one store names versions on the wire: its header prefix and the shape of its ids."""

    prefix: str
    id_pattern: re.Pattern[str]

    def param(self, req: Request) -> str | None:
        """The ``versionId`` a request names; one that cannot be the store's id (nor ``null``) is 400
        InvalidArgument, as OSS and OBS answer it."""
        value = req.param("versionId")
        if value is None:
            return None
        if value != NULL and not self.id_pattern.fullmatch(value):
            raise EmulatorError(
                400, "InvalidArgument", "Invalid version id specified", ArgumentName="versionId"
            )
        return value

    def headers(self, store: Any, bucket: str, record: Any) -> list[tuple[str, str]]:
        """``<prefix>version-id`` once the bucket has a versioning status (``null`` while suspended)."""
        b = store.require_bucket(bucket)
        return [] if status(b.extra) is None else [(f"{self.prefix}version-id", version_of(record))]


def put_versioning(store: Any, req: Request, bucket: str) -> Response:
    """PutBucketVersioning's document, the same for the S3 family: VersioningConfiguration/Status."""
    root = parse_xml(req.body())
    if root.tag != "VersioningConfiguration":
        raise EmulatorError(400, "MalformedXML", "The root element must be VersioningConfiguration.")
    store.set_versioning(bucket, root.findtext("Status"))
    return Response(200)
