"""The operation table's index answers exactly what a scan of the table in order answers."""

from __future__ import annotations

import pytest

from gateway import operations
from gateway.operations import ROUTES, Route, match


def _scan(
    method: str, target: operations.Target, query: dict[str, str], headers: dict[str, str]
) -> Route | None:
    return next((r for r in ROUTES if r.matches(method, target, query, headers)), None)


CASES = [
    (route.method, route.target, {name: value or "" for name, value in route.query}, route.header)
    for route in ROUTES
] + [
    (m, t, q, h)
    for m in ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH")
    for t in ("service", "bucket", "object")
    for q in ({}, {"list-type": "2"}, {"uploads": ""}, {"uploadId": "u", "partNumber": "1"}, {"acl": ""})
    for h in (None, "x-amz-copy-source")
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_index_matches_scan(case: int) -> None:
    method, target, query, header = CASES[case]
    headers = {header: "/b/k"} if header else {}
    assert match(method, target, query, headers) is _scan(method, target, query, headers)


def test_index_follows_a_changed_table(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = Route("PATCH", "object", "Patched", ROUTES[0].handler)
    monkeypatch.setattr(operations, "ROUTES", [*ROUTES, extra])
    assert match("PATCH", "object", {}, {}) is extra
    monkeypatch.undo()
    assert match("PATCH", "object", {}, {}) is None
