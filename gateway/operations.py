"""The operation table: (method, target, sub-resource, header) → S3 operation. Every supported S3
operation is one line here, and so is each that answers NotImplemented; the first matching line wins, so
specific lines come before general ones. The operation's name is what the access log and the metrics
report.

A line's query terms are either a sub-resource name that must be present (``uploads``) or a
``name=value`` pair the query must hold exactly (``list-type=2``).

``right`` is what the caller's key must hold on the bucket (see gateway.policy); ``public`` marks the
reads an anonymous caller may make on a bucket configured public-read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from starlette.responses import Response

from gateway.context import Ctx
from gateway.ops import buckets as b
from gateway.ops import listing as ls
from gateway.ops import multipart as mp
from gateway.ops import objects as o

Target = Literal["service", "bucket", "object"]
Right = Literal["read", "write", "list", "admin", "none"]
Handler = Callable[[Ctx], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    target: Target
    operation: str
    handler: Handler
    #: (name, value) terms; a None value means "present, with any value".
    query: tuple[tuple[str, str | None], ...] = ()
    header: str | None = None
    right: Right = "read"
    public: bool = False

    def matches(
        self, method: str, target: Target, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        return (
            self.method == method
            and self.target == target
            and all(name in query and value in (None, query[name]) for name, value in self.query)
            and (self.header is None or self.header in headers)
        )


def _term(spec: str) -> tuple[str, str | None]:
    """``"uploads"`` → ("uploads", None); ``"list-type=2"`` → ("list-type", "2")."""
    name, eq, value = spec.partition("=")
    return (name, value) if eq else (name, None)


#: Bucket sub-resources S3 has and this gateway does not configure. GET on the first group answers S3's
#: "not configured" error (what clients expect of a bucket without one); everything else NotImplemented.
ABSENT_BUCKET_CONFIG = ("policy", "lifecycle", "cors", "tagging", "encryption")
UNSUPPORTED_BUCKET = (
    "website", "logging", "notification", "replication", "object-lock", "versions", "requestPayment",
    "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering", "ownershipControls",
    "publicAccessBlock", "policyStatus", "acl", "versioning", "lifecycle", "cors", "tagging", "encryption",
    "policy", "location",
)  # fmt: skip
UNSUPPORTED_OBJECT = (
    "tagging",
    "retention",
    "legal-hold",
    "torrent",
    "restore",
    "select",
    "attributes",
    "acl",
)


def _r(method: str, target: Target, operation: str, handler: Handler, *query: str, **kw: object) -> Route:
    return Route(method, target, operation, handler, tuple(_term(q) for q in query), **kw)  # type: ignore[arg-type]


ROUTES: list[Route] = [
    # service
    _r("GET", "service", "ListBuckets", b.list_buckets, right="none"),
    # bucket configuration reads
    _r("GET", "bucket", "GetBucketLocation", b.get_location, "location", right="list"),
    _r("GET", "bucket", "GetBucketVersioning", b.get_versioning, "versioning", right="list"),
    _r("GET", "bucket", "GetBucketAcl", b.get_bucket_acl, "acl", right="list"),
    *[_r("GET", "bucket", "GetBucketConfig", b.get_bucket_config_absent, sub, right="list") for sub in ABSENT_BUCKET_CONFIG],
    # multipart listing and batch delete
    _r("GET", "bucket", "ListMultipartUploads", mp.list_multipart_uploads, "uploads", right="list"),
    _r("GET", "bucket", "ListObjectVersions", ls.list_object_versions, "versions", right="list"),
    _r("POST", "bucket", "DeleteObjects", o.delete_objects, "delete", right="write"),
    # anything else with a bucket sub-resource is not implemented
    *[_r(m, "bucket", "NotImplemented", b.not_implemented, sub, right="list" if m == "GET" else "write") for sub in UNSUPPORTED_BUCKET for m in ("GET", "PUT", "DELETE", "POST")],
    # buckets
    _r("GET", "bucket", "ListObjectsV2", ls.list_objects_v2, "list-type=2", right="list", public=True),
    _r("GET", "bucket", "ListObjects", ls.list_objects, right="list", public=True),
    _r("PUT", "bucket", "CreateBucket", b.create_bucket, right="admin"),
    _r("DELETE", "bucket", "DeleteBucket", b.delete_bucket, right="admin"),
    _r("HEAD", "bucket", "HeadBucket", b.head_bucket, right="list", public=True),
    # multipart
    _r("POST", "object", "CreateMultipartUpload", mp.create_multipart_upload, "uploads", right="write"),
    _r("POST", "object", "CompleteMultipartUpload", mp.complete_multipart_upload, "uploadId", right="write"),
    _r("PUT", "object", "UploadPartCopy", mp.upload_part_copy, "partNumber", "uploadId", header="x-amz-copy-source", right="write"),
    _r("PUT", "object", "UploadPart", mp.upload_part, "partNumber", "uploadId", right="write"),
    _r("GET", "object", "ListParts", mp.list_parts, "uploadId", right="write"),
    _r("DELETE", "object", "AbortMultipartUpload", mp.abort_multipart_upload, "uploadId", right="write"),
    # object sub-resources
    _r("GET", "object", "GetObjectAcl", b.get_object_acl, "acl", right="read"),
    _r("GET", "object", "GetObjectTagging", b.get_object_tagging, "tagging", right="read"),
    *[_r(m, "object", "NotImplemented", b.not_implemented, sub, right="read" if m == "GET" else "write") for sub in UNSUPPORTED_OBJECT for m in ("GET", "PUT", "DELETE", "POST")],
    # objects
    _r("PUT", "object", "CopyObject", o.copy_object, header="x-amz-copy-source", right="write"),
    _r("PUT", "object", "PutObject", o.put_object, right="write"),
    _r("GET", "object", "GetObject", o.get_object, right="read", public=True),
    _r("HEAD", "object", "HeadObject", o.head_object, right="read", public=True),
    _r("DELETE", "object", "DeleteObject", o.delete_object, right="write"),
]  # fmt: skip


_index: dict[tuple[str, str], list[Route]] = {}
_indexed: list[Route] = []


def _candidates(method: str, target: Target) -> list[Route]:
    """The table's lines for (method, target), in table order: a dict lookup instead of a scan of every
    line per request. Rebuilt if the table changed (the list's identity or length), so it is never stale."""
    global _indexed
    if _indexed is not ROUTES or sum(len(v) for v in _index.values()) != len(ROUTES):
        _index.clear()
        for route in ROUTES:
            _index.setdefault((route.method, route.target), []).append(route)
        _indexed = ROUTES
    return _index.get((method, target), [])


def match(method: str, target: Target, query: Mapping[str, str], headers: Mapping[str, str]) -> Route | None:
    for route in _candidates(method, target):
        if route.matches(method, target, query, headers):
            return route
    return None
