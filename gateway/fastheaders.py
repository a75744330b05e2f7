"""A request's headers with a dict behind them: Starlette's ``Headers`` scans its list on every lookup.

A 4 KiB GET asks its headers ~27 questions (signature, routing, the refusal table, conditions, CORS,
the access log), each a scan of every header, lower-casing and encoding the name again each time. This
subclass indexes the names once (lower-case, first value wins, as ``Headers.__getitem__`` answers) and
answers ``[]``, ``get`` and ``in`` from the index; everything else (``raw``, ``getlist``, ``items``)
stays Starlette's. ASGI servers send header names lower-case already, and the index is built from
that same list, so the answers are the ones the scan gave.

On the answer's side, ``set_answer_headers`` sets the headers every answer gets in one pass over the
response's header list, where each ``response.headers[name] = value`` was a pass of its own, and
``WholeAnswer`` builds a GET's or HEAD's list in one pass with each name's raw form remembered.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response


class IndexedHeaders(Headers):
    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        super().__init__(scope=scope)
        index: dict[str, str] = {}
        joined = index  # the same dict until a name comes twice
        for name, value in self._list:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            if key not in joined:
                joined[key] = text
                if joined is not index:
                    index[key] = text
            else:
                if joined is index:
                    joined = dict(index)
                joined[key] = f"{joined[key]},{text}"
        self._index = index
        #: Repeated names joined by commas, as SigV4 canonicalises them (read-only: often ``_index``).
        self.joined: Mapping[str, str] = joined

    def __getitem__(self, key: str) -> str:
        try:
            return self._index[key.lower()]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._index.get(key.lower(), default)

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._index


def request_with_indexed_headers(scope: MutableMapping[str, Any], receive: Any) -> Request:
    """A Starlette ``Request`` whose ``headers`` is an ``IndexedHeaders``."""
    request = Request(scope, receive)
    request._headers = IndexedHeaders(scope)
    return request


def raw_headers(values: Mapping[str, str]) -> dict[bytes, bytes]:
    """Header names and values as an answer's header list holds them: lower-case latin-1 bytes."""
    return {name.lower().encode("latin-1"): value.encode("latin-1") for name, value in values.items()}


def set_answer_headers(
    response: Response, wanted: dict[bytes, bytes], default: dict[bytes, bytes] | None = None
) -> None:
    """``response.headers[name] = value`` for each of ``wanted`` (the first header of that name takes the
    value in its place, later ones go, a new name is appended), then ``response.headers.setdefault`` for
    each of ``default``: the same list as those calls in turn would leave, built in one pass. Names are
    given as the list holds them (``raw_headers``), so none is lower-cased and encoded per answer."""
    raw = response.raw_headers  # the list ``response.headers`` edits too
    present = {name for name, _ in raw}
    if present.isdisjoint(wanted):  # the usual case: only new names, appended in order
        raw.extend(wanted.items())
    else:
        out: list[tuple[bytes, bytes]] = []
        seen: set[bytes] = set()
        for name, value in raw:
            if name in wanted:
                if name not in seen:
                    out.append((name, wanted[name]))
            else:
                out.append((name, value))
            seen.add(name)
        out.extend((name, value) for name, value in wanted.items() if name not in seen)
        raw[:] = out
    present.update(wanted)
    for key, value in (default or {}).items():
        if key not in present:
            raw.append((key, value))
            present.add(key)


#: Header names as an answer's list holds them, by the spelling the handlers use: the names are few
#: (``x-amz-meta-*`` ones come from clients, hence the bound).
_RAW_NAMES: dict[str, bytes] = {}
_RAW_NAMES_KEPT = 512


def _raw_name(name: str) -> bytes:
    raw = _RAW_NAMES.get(name)
    if raw is None:
        raw = name.lower().encode("latin-1")
        if len(_RAW_NAMES) < _RAW_NAMES_KEPT:
            _RAW_NAMES[name] = raw
    return raw


class WholeAnswer(Response):
    """``Response(body, status_code=status, headers=headers)`` for headers that name the Content-Length
    already (a GET's bytes in hand, a HEAD): the same answer and header list, the list made in one pass
    without Starlette's second look for Content-Length and Content-Type, each name's raw form
    remembered rather than lower-cased and encoded per answer."""

    def __init__(self, body: bytes, status_code: int, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [(_raw_name(name), value.encode("latin-1")) for name, value in headers.items()]
