"""IndexedHeaders answers every lookup exactly as Starlette's scanning Headers does."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from gateway.fastheaders import IndexedHeaders

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
