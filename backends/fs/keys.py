"""The filesystem backend's names: S3 keys <-> relative paths, and bucket names <-> directories.

A key is split at each ``/``. Every segment but the last becomes a directory, the last one a file, and
every path component carries a one-letter kind before the escaped text:

- ``d<text>``  a directory for a segment followed by ``/`` (key fragment ``text + "/"``);
- ``c<text>``  a continuation directory: a piece of a segment too long for one file name (``text``);
- ``o<text>``  the object file ending the key (``text``).

Escaping turns ``%`` into ``%25`` and NUL into ``%00``; a segment never holds ``/``. So a component is
never empty, ``.``, ``..`` nor hidden, holds no separator nor NUL, and stays within NAME_MAX: no key can
name a path outside its bucket, by construction. Files and directories never share a name, so ``a``,
``a/`` and ``a/b`` are all objects at once. The mapping is a function of the key (greedy splitting),
and ``key_from_components`` inverts it.

Names do not sort like keys; the listing walker (fs_listing) orders them by their key fragments.
"""

from __future__ import annotations

import functools
import re

from backends.base import MAX_KEY_BYTES
from backends.errors import InvalidBucketName, InvalidKey, KeyTooLong

#: Linux NAME_MAX, in bytes.
NAME_MAX = 255
DIR, CONT, OBJ = "d", "c", "o"

_ESCAPES = {"%": "%25", "\x00": "%00"}
_UNESCAPE = re.compile("%(25|00)")
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def unescape(text: str) -> str | None:
    """The text an escaped name stands for, or None when it is not one our escaping produces."""
    if "%" in _UNESCAPE.sub("", text) or "\x00" in text:
        return None
    return _UNESCAPE.sub(lambda m: "%" if m.group(1) == "25" else "\x00", text)


def check_key(key: str) -> bytes:
    """The key's UTF-8 bytes; refuses empty, over-long and non-UTF-8 (lone surrogate) keys."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKey("The specified key is not valid UTF-8.", detail=str(exc)) from None
    if not raw:
        raise InvalidKey("The specified key is empty.")
    if len(raw) > MAX_KEY_BYTES:
        raise KeyTooLong(detail=f"{len(raw)} bytes, at most {MAX_KEY_BYTES}")
    return raw


def split_segment(segment: str, last_kind: str) -> list[str]:
    """Components for one segment: continuations while it overflows a name, then ``last_kind``."""
    out: list[str] = []
    piece: list[str] = []
    used = 1  # the kind letter
    for ch in segment:
        enc = _ESCAPES.get(ch, ch)
        width = len(enc.encode("utf-8"))
        if used + width > NAME_MAX:
            out.append(CONT + "".join(piece))
            piece, used = [], 1
        piece.append(enc)
        used += width
    out.append(last_kind + "".join(piece))
    return out


def key_components(key: str) -> list[str]:
    """The relative path of a key's object file, as path components (a list of the caller's own)."""
    return list(_components(key))


@functools.lru_cache(maxsize=4096)
def _components(key: str) -> tuple[str, ...]:
    """Cached per key: a pure function of it, asked on every read of the key (a refused key raises
    anew each time, never cached)."""
    check_key(key)
    segments = key.split("/")
    components: list[str] = []
    for segment in segments[:-1]:
        components += split_segment(segment, DIR)
    components += split_segment(segments[-1], OBJ)
    return tuple(components)


def parse_component(name: str) -> tuple[str, str] | None:
    """(kind, key fragment) of a path component, or None for a name the encoding never produces."""
    if not name or name[0] not in (DIR, CONT, OBJ):
        return None
    text = unescape(name[1:])
    if text is None or "/" in text:
        return None
    kind = name[0]
    return kind, text + "/" if kind == DIR else text


def key_from_components(components: list[str]) -> str:
    """Inverse of key_components; raises ValueError for a path it could not have produced."""
    parts: list[str] = []
    for i, name in enumerate(components):
        parsed = parse_component(name)
        if parsed is None:
            raise ValueError(f"not an encoded key component: {name!r}")
        kind, fragment = parsed
        if (kind == OBJ) != (i == len(components) - 1):
            raise ValueError("an object component must end the path, and only there")
        parts.append(fragment)
    return "".join(parts)


def check_bucket(name: str) -> str:
    """A bucket is one directory under the root: one safe name, never hidden, never ``.``/``..``."""
    if not isinstance(name, str) or not _BUCKET.fullmatch(name):
        raise InvalidBucketName(detail=f"not a single safe path component: {name!r}")
    return name
