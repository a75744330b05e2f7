"""The operation table: every (method, target, sub-resource, header) resolves to the S3 operation the
access log and the metrics name, and no supported line is shadowed by a more general one above it."""

from __future__ import annotations

import pytest

from gateway import operations
from gateway.operations import ROUTES, UNSUPPORTED_BUCKET, UNSUPPORTED_OBJECT, Route, match

COPY = {"x-amz-copy-source": "/src/key"}

#: (method, target, query, headers) → operation name, or None for "no line" (the app answers
#: MethodNotAllowed or NotImplemented).
CASES: list[tuple[str, operations.Target, dict[str, str], dict[str, str], str | None]] = [
    ("GET", "service", {}, {}, "ListBuckets"),
    ("PUT", "service", {}, {}, None),
    ("GET", "bucket", {}, {}, "ListObjects"),
    ("GET", "bucket", {"list-type": "2"}, {}, "ListObjectsV2"),
    ("GET", "bucket", {"list-type": "2", "prefix": "a/", "continuation-token": "x"}, {}, "ListObjectsV2"),
    ("GET", "bucket", {"list-type": "3"}, {}, "ListObjects"),  # refused there as S3 refuses it
    ("GET", "bucket", {"list-type": ""}, {}, "ListObjects"),
    ("GET", "bucket", {"marker": "k", "max-keys": "5"}, {}, "ListObjects"),
    ("GET", "bucket", {"versions": "", "list-type": "2"}, {}, "ListObjectVersions"),
    ("GET", "bucket", {"location": ""}, {}, "GetBucketLocation"),
    ("GET", "bucket", {"versioning": ""}, {}, "GetBucketVersioning"),
    ("GET", "bucket", {"acl": ""}, {}, "GetBucketAcl"),
    ("GET", "bucket", {"policy": ""}, {}, "GetBucketPolicy"),
    ("PUT", "bucket", {"policy": ""}, {}, "PutBucketPolicy"),
    ("DELETE", "bucket", {"policy": ""}, {}, "DeleteBucketPolicy"),
    ("GET", "bucket", {"policyStatus": ""}, {}, "GetBucketPolicyStatus"),
    ("PUT", "bucket", {"ownershipControls": ""}, {}, "PutBucketOwnershipControls"),
    ("DELETE", "bucket", {"publicAccessBlock": ""}, {}, "DeletePublicAccessBlock"),
    ("PUT", "object", {"acl": ""}, {}, "PutObjectAcl"),
    ("POST", "bucket", {"acl": ""}, {}, "NotImplemented"),
    ("GET", "bucket", {"lifecycle": ""}, {}, "GetBucketConfig"),
    ("GET", "bucket", {"cors": ""}, {}, "GetBucketCors"),
    ("PUT", "bucket", {"cors": ""}, {}, "PutBucketCors"),
    ("OPTIONS", "bucket", {}, {}, "PreflightRequest"),
    ("OPTIONS", "object", {"uploadId": "u", "partNumber": "1"}, {}, "PreflightRequest"),
    ("OPTIONS", "service", {}, {}, None),
    ("GET", "bucket", {"tagging": ""}, {}, "GetBucketTagging"),
    ("PUT", "bucket", {"tagging": ""}, {}, "PutBucketTagging"),
    ("DELETE", "bucket", {"tagging": ""}, {}, "DeleteBucketTagging"),
    ("GET", "bucket", {"encryption": ""}, {}, "GetBucketEncryption"),
    ("PUT", "bucket", {"encryption": ""}, {}, "PutBucketEncryption"),
    ("DELETE", "bucket", {"encryption": ""}, {}, "DeleteBucketEncryption"),
    ("GET", "bucket", {"uploads": ""}, {}, "ListMultipartUploads"),
    ("GET", "bucket", {"versions": ""}, {}, "ListObjectVersions"),
    ("POST", "bucket", {"delete": ""}, {}, "DeleteObjects"),
    ("PUT", "bucket", {"versioning": ""}, {}, "PutBucketVersioning"),
    ("PUT", "bucket", {"acl": ""}, {}, "PutBucketAcl"),
    ("DELETE", "bucket", {"cors": ""}, {}, "DeleteBucketCors"),
    ("GET", "bucket", {"website": ""}, {}, "NotImplemented"),
    ("PUT", "bucket", {}, {}, "CreateBucket"),
    ("DELETE", "bucket", {}, {}, "DeleteBucket"),
    ("HEAD", "bucket", {}, {}, "HeadBucket"),
    ("POST", "bucket", {}, {}, "PostObject"),
    ("POST", "bucket", {"website": ""}, {}, "NotImplemented"),
    ("PATCH", "bucket", {}, {}, None),
    ("POST", "object", {"uploads": ""}, {}, "CreateMultipartUpload"),
    ("POST", "object", {"uploadId": "u"}, {}, "CompleteMultipartUpload"),
    ("PUT", "object", {"partNumber": "1", "uploadId": "u"}, COPY, "UploadPartCopy"),
    ("PUT", "object", {"partNumber": "1", "uploadId": "u"}, {}, "UploadPart"),
    ("GET", "object", {"uploadId": "u"}, {}, "ListParts"),
    ("DELETE", "object", {"uploadId": "u"}, {}, "AbortMultipartUpload"),
    ("GET", "object", {"acl": ""}, {}, "GetObjectAcl"),
    ("GET", "object", {"tagging": ""}, {}, "GetObjectTagging"),
    ("PUT", "object", {"tagging": ""}, {}, "PutObjectTagging"),
    ("DELETE", "object", {"tagging": ""}, {}, "DeleteObjectTagging"),
    ("GET", "object", {"retention": ""}, {}, "GetObjectRetention"),
    ("PUT", "object", {"retention": ""}, {}, "PutObjectRetention"),
    ("DELETE", "object", {"retention": ""}, {}, "NotImplemented"),
    ("GET", "object", {"legal-hold": ""}, {}, "GetObjectLegalHold"),
    ("PUT", "object", {"legal-hold": ""}, {}, "PutObjectLegalHold"),
    ("PUT", "bucket", {"object-lock": ""}, {}, "PutObjectLockConfiguration"),
    ("GET", "bucket", {"object-lock": ""}, {}, "GetObjectLockConfiguration"),
    ("DELETE", "bucket", {"object-lock": ""}, {}, "NotImplemented"),
    ("PUT", "object", {}, COPY, "CopyObject"),
    ("PUT", "object", {}, {}, "PutObject"),
    ("GET", "object", {}, {}, "GetObject"),
    ("GET", "object", {"partNumber": "1"}, {}, "GetObject"),
    ("HEAD", "object", {}, {}, "HeadObject"),
    ("DELETE", "object", {}, {}, "DeleteObject"),
    ("POST", "object", {}, {}, None),
]


#: (method, sub-resource) pairs of the NotImplemented lists that a line before them serves.
SERVED = {("GET", "object-lock"), ("PUT", "object-lock"), ("PUT", "retention"), ("PUT", "legal-hold")}


@pytest.mark.parametrize(("method", "target", "query", "headers", "expected"), CASES)
def test_request_resolves_to_its_operation(
    method: str,
    target: operations.Target,
    query: dict[str, str],
    headers: dict[str, str],
    expected: str | None,
) -> None:
    route = match(method, target, query, headers)
    assert (route.operation if route else None) == expected


#: Bucket sub-resources of access control: served on GET/PUT/DELETE (gateway.ops.acls, .policies).
ACCESS_CONTROL = {"acl", "policy", "policyStatus", "ownershipControls", "publicAccessBlock"}


@pytest.mark.parametrize(
    ("sub", "method"),
    [(sub, method) for sub in sorted(set(UNSUPPORTED_BUCKET) - {"policy", "lifecycle", "cors", "tagging",
                                                                "encryption", "location", "versioning",
                                                                "acl", "versions"})
     for method in ("GET", "PUT", "DELETE", "POST")
     if sub not in ACCESS_CONTROL or method == "POST"],  # access control: see the test below
)  # fmt: skip
def test_unsupported_bucket_subresources_answer_not_implemented(sub: str, method: str) -> None:
    if (method, sub) in SERVED:
        pytest.skip(f"{method} ?{sub} is served (see CASES)")
    route = match(method, "bucket", {sub: ""}, {})
    assert route is not None and route.operation == "NotImplemented"


@pytest.mark.parametrize(
    ("method", "sub"),
    [(m, s) for s in sorted(ACCESS_CONTROL) for m in ("GET", "PUT", "DELETE")
     if (m, s) not in {("PUT", "policyStatus"), ("DELETE", "policyStatus"), ("DELETE", "acl")}],
)  # fmt: skip
def test_access_control_subresources_are_served(method: str, sub: str) -> None:
    route = match(method, "bucket", {sub: ""}, {})
    assert route is not None and route.operation not in ("NotImplemented", "GetBucketConfig")


@pytest.mark.parametrize("sub", UNSUPPORTED_OBJECT)
def test_unsupported_object_subresources_answer_not_implemented(sub: str) -> None:
    for method in ("DELETE", "POST") if sub == "acl" else ("PUT", "DELETE", "POST"):
        if (method, sub) in SERVED:
            continue
        route = match(method, "object", {sub: ""}, {})
        assert route is not None and route.operation == "NotImplemented", (method, sub)


def _request_for(route: Route) -> tuple[dict[str, str], dict[str, str]]:
    """The smallest query and headers a route's own line asks for."""
    query = {name: value if value is not None else "" for name, value in route.query}
    headers = {route.header: "/src/key"} if route.header else {}
    return query, headers


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.operation != "NotImplemented"], ids=lambda r: r.operation
)
def test_every_supported_line_is_reachable(route: Route) -> None:
    """No general line above a specific one swallows it (the first matching line wins)."""
    query, headers = _request_for(route)
    assert match(route.method, route.target, query, headers) is route


def test_each_operation_has_its_own_handler() -> None:
    """One line per operation: an operation name is never shared by two handlers (so the access log
    names what ran)."""
    handlers: dict[str, set[object]] = {}
    for route in ROUTES:
        handlers.setdefault(route.operation, set()).add(route.handler)
    assert {op: len(h) for op, h in handlers.items() if len(h) > 1} == {}


def _first_in_table(method: str, target: operations.Target, query: dict[str, str], headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return next((r for r in ROUTES if r.matches(method, target, query, headers)), None)


@pytest.mark.parametrize("target", ["service", "bucket", "object"])
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"])
def test_match_is_the_first_matching_line_of_the_table(method: str, target: operations.Target) -> None:
    """The indexed lookup (and its shortcut for a query naming no sub-resource, as a presigned URL's
    X-Amz-* parameters do) answers what a scan of the whole table in order answers, for every query
    term the table uses alone, with a presigned URL's parameters, and with wrong values."""
    names = sorted({name for r in ROUTES for name, _ in r.query})
    presigned = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Signature": "ab", "versionId": "v"}
    queries: list[dict[str, str]] = [{}, dict(presigned)]
    for r in ROUTES:
        terms = {name: "" if value is None else value for name, value in r.query}
        queries += [terms, {**presigned, **terms}, {name: "other" for name in terms}]
    queries += [{name: ""} for name in names]
    for query in queries:
        for headers in ({}, COPY):
            expected = _first_in_table(method, target, query, headers)
            assert match(method, target, query, headers) is expected, (query, headers)
