"""IndexedHeaders answers every lookup exactly as Starlette's scanning Headers does."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers
from starlette.responses import Response

from gateway.fastheaders import IndexedHeaders, raw_headers, set_answer_headers

RAW = [
    (b"host", b"example.com"),
    (b"x-amz-meta-a", b"1"),
    (b"x-amz-meta-a", b"2"),
    (b"content-type", b"text/plain; charset=\xe9"),
    (b"x-empty", b""),
]
NAMES = ["host", "Host", "HOST", "x-amz-meta-a", "X-Amz-Meta-A", "content-type", "x-empty", "absent", ""]


@pytest.mark.parametrize("name", NAMES)
def test_lookups_agree_with_starlette(name: str) -> None:
    theirs, ours = Headers(scope={"headers": list(RAW)}), IndexedHeaders({"headers": list(RAW)})
    assert ours.get(name) == theirs.get(name)
    assert ours.get(name, "dflt") == theirs.get(name, "dflt")
    assert (name in ours) == (name in theirs)
    if name in theirs:
        assert ours[name] == theirs[name]
    else:
        with pytest.raises(KeyError):
            ours[name]


def test_the_rest_is_starlettes() -> None:
    theirs, ours = Headers(scope={"headers": list(RAW)}), IndexedHeaders({"headers": list(RAW)})
    assert ours.raw == theirs.raw
    assert ours.items() == theirs.items()
    assert ours.getlist("x-amz-meta-a") == ["1", "2"]
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert 42 not in ours


ANSWER_HEADERS = [
    {},
    {"ETag": '"abc"', "Content-Length": "4"},
    {"Connection": "keep-alive", "x-amz-request-id": "old", "Server": "other"},
]
SETS = [
    {},
    {"x-amz-request-id": "RID", "x-amz-id-2": "RID"},
    {"Connection": "close", "X-S3Bridge-Backend": "fs", "x-amz-request-id": "RID"},
    {"Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin"},
]


@pytest.mark.parametrize("before", ANSWER_HEADERS)
@pytest.mark.parametrize("values", SETS)
@pytest.mark.parametrize("default", [None, {"Server": "s3bridge"}, {"x-amz-request-id": "dflt"}])
def test_set_answer_headers_is_setitem_then_setdefault(
    before: dict[str, str], values: dict[str, str], default: dict[str, str] | None
) -> None:
    """One pass leaves the header list those calls in turn leave (order, duplicates, spelling)."""
    theirs, ours = Response(b"body", headers=before), Response(b"body", headers=before)
    theirs.raw_headers.append((b"x-amz-request-id", b"duplicate"))
    ours.raw_headers.append((b"x-amz-request-id", b"duplicate"))
    for name, value in values.items():
        theirs.headers[name] = value
    for name, value in (default or {}).items():
        theirs.headers.setdefault(name, value)
    made_before = ours.headers  # a MutableHeaders made before the call still sees the result
    set_answer_headers(ours, raw_headers(values), raw_headers(default) if default else None)
    assert ours.raw_headers == theirs.raw_headers
    assert list(made_before.raw) == theirs.raw_headers


def test_sigv4_view_joins_repeated_names_in_order() -> None:
    """What the signature check reads: one value per lower-case name, repeats joined by commas in the
    order they came, names in the order first seen."""
    from gateway.app import _joined

    raw = [(b"x-amz-meta-a", b"1"), (b"host", b"h"), (b"X-Amz-Meta-A", b"2"), (b"x-amz-meta-a", b"")]
    for headers in (Headers(raw=raw), IndexedHeaders({"headers": raw})):
        joined = _joined(headers)
        assert joined == {"x-amz-meta-a": "1,2,", "host": "h"}
        assert list(joined) == ["x-amz-meta-a", "host"]
    indexed = IndexedHeaders({"headers": raw})
    assert indexed["x-amz-meta-a"] == "1" and indexed.get("HOST") == "h"  # lookups still the first value
    single = IndexedHeaders({"headers": [(b"host", b"h"), (b"x-amz-date", b"d")]})
    assert _joined(single) == {"host": "h", "x-amz-date": "d"}


@pytest.mark.parametrize("status", [200, 206])
@pytest.mark.parametrize("body", [b"", b"four"])
def test_whole_answer_is_starlettes_response(status: int, body: bytes) -> None:
    """The same status, body and header list as ``Response`` for headers naming their Content-Length,
    a name seen before or not, as the handlers spell it or otherwise, values beyond ASCII included."""
    from gateway.fastheaders import WholeAnswer

    for _ in range(2):  # the second time with every name's raw form remembered
        headers = {
            "ETag": '"abc"',
            "Last-Modified": "Wed, 02 Dec 2026 18:00:00 GMT",
            "Content-Type": "text/plain; charset=\xe9",
            "x-amz-meta-Wörd": "caf\xe9",
            "Content-Length": str(len(body)),
        }
        ours, theirs = WholeAnswer(body, status, headers), Response(body, status_code=status, headers=headers)
        assert (ours.status_code, ours.body, ours.raw_headers) == (
            theirs.status_code,
            theirs.body,
            theirs.raw_headers,
        )
        assert ours.background is None and ours.media_type is None
