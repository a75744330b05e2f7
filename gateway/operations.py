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
from gateway.ops import acls as acl
from gateway.ops import attributes as at
from gateway.ops import buckets as b
from gateway.ops import cors as cr
from gateway.ops import encryption as enc
from gateway.ops import listing as ls
from gateway.ops import multipart as mp
from gateway.ops import objectlock as lk
from gateway.ops import objects as o
from gateway.ops import policies as pol
from gateway.ops import post as po
from gateway.ops import tagging as tg
from gateway.ops import versions as v

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
    #: Answered without checking a signature (CORS preflights carry none, and a presigned URL's query
    #: signs another method); the handler decides who may do what.
    unsigned: bool = False

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
ABSENT_BUCKET_CONFIG = ("lifecycle",)
UNSUPPORTED_BUCKET = (
    "website", "logging", "notification", "replication", "object-lock", "versions", "requestPayment",
    "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering", "ownershipControls",
    "publicAccessBlock", "policyStatus", "acl", "versioning", "lifecycle", "cors", "encryption",
    "policy", "location",
)  # fmt: skip
UNSUPPORTED_OBJECT = (
    "retention",
    "legal-hold",
    "torrent",
    "restore",
    "select",
    "acl",
)


def _r(method: str, target: Target, operation: str, handler: Handler, *query: str, **kw: object) -> Route:
    return Route(method, target, operation, handler, tuple(_term(q) for q in query), **kw)  # type: ignore[arg-type]


ROUTES: list[Route] = [
    # service
    _r("GET", "service", "ListBuckets", b.list_buckets, right="none"),
    # access control (gateway.access): ACLs, ownership controls, public-access block, bucket policy
    _r("GET", "bucket", "GetBucketAcl", acl.get_bucket_acl, "acl", right="list"),
    _r("PUT", "bucket", "PutBucketAcl", acl.put_bucket_acl, "acl", right="admin"),
    _r("GET", "bucket", "GetBucketOwnershipControls", acl.get_ownership_controls, "ownershipControls", right="list"),
    _r("PUT", "bucket", "PutBucketOwnershipControls", acl.put_ownership_controls, "ownershipControls", right="admin"),
    _r("DELETE", "bucket", "DeleteBucketOwnershipControls", acl.delete_ownership_controls, "ownershipControls", right="admin"),
    _r("GET", "bucket", "GetPublicAccessBlock", acl.get_public_access_block, "publicAccessBlock", right="list"),
    _r("PUT", "bucket", "PutPublicAccessBlock", acl.put_public_access_block, "publicAccessBlock", right="admin"),
    _r("DELETE", "bucket", "DeletePublicAccessBlock", acl.delete_public_access_block, "publicAccessBlock", right="admin"),
    _r("GET", "bucket", "GetBucketPolicyStatus", pol.get_bucket_policy_status, "policyStatus", right="list"),
    _r("GET", "bucket", "GetBucketPolicy", pol.get_bucket_policy, "policy", right="list"),
    _r("PUT", "bucket", "PutBucketPolicy", pol.put_bucket_policy, "policy", right="admin"),
    _r("DELETE", "bucket", "DeleteBucketPolicy", pol.delete_bucket_policy, "policy", right="admin"),
    _r("GET", "object", "GetObjectAcl", acl.get_object_acl, "acl", right="read"),
    _r("PUT", "object", "PutObjectAcl", acl.put_object_acl, "acl", right="write"),
    # CORS: the bucket's rules, and the browsers' preflight on any bucket or object path
    _r("PUT", "bucket", "PutBucketCors", cr.put_bucket_cors, "cors", right="admin"),
    _r("GET", "bucket", "GetBucketCors", cr.get_bucket_cors, "cors", right="list"),
    _r("DELETE", "bucket", "DeleteBucketCors", cr.delete_bucket_cors, "cors", right="admin"),
    _r("OPTIONS", "bucket", "PreflightRequest", cr.preflight, right="none", unsigned=True),
    _r("OPTIONS", "object", "PreflightRequest", cr.preflight, right="none", unsigned=True),
    # bucket default encryption (before the "absent"/unsupported sub-resource lines)
    _r("GET", "bucket", "GetBucketEncryption", enc.get_bucket_encryption, "encryption", right="list"),
    _r("PUT", "bucket", "PutBucketEncryption", enc.put_bucket_encryption, "encryption", right="admin"),
    _r("DELETE", "bucket", "DeleteBucketEncryption", enc.delete_bucket_encryption, "encryption", right="admin"),
    # bucket configuration reads
    _r("GET", "bucket", "GetBucketLocation", b.get_location, "location", right="list"),
    _r("GET", "bucket", "GetBucketVersioning", v.get_bucket_versioning, "versioning", right="list"),
    _r("PUT", "bucket", "PutBucketVersioning", v.put_bucket_versioning, "versioning", right="admin"),
    # bucket tagging
    _r("GET", "bucket", "GetBucketTagging", tg.get_bucket_tagging, "tagging", right="list"),
    _r("PUT", "bucket", "PutBucketTagging", tg.put_bucket_tagging, "tagging", right="admin"),
    _r("DELETE", "bucket", "DeleteBucketTagging", tg.delete_bucket_tagging, "tagging", right="admin"),
    *[_r("GET", "bucket", "GetBucketConfig", b.get_bucket_config_absent, sub, right="list") for sub in ABSENT_BUCKET_CONFIG],
    # multipart listing and batch delete
    _r("GET", "bucket", "ListMultipartUploads", mp.list_multipart_uploads, "uploads", right="list"),
    _r("GET", "bucket", "ListObjectVersions", v.list_object_versions, "versions", right="list"),
    _r("PUT", "bucket", "PutObjectLockConfiguration", lk.put_object_lock_configuration, "object-lock", right="admin"),
    _r("GET", "bucket", "GetObjectLockConfiguration", lk.get_object_lock_configuration, "object-lock", right="list"),
    _r("POST", "bucket", "DeleteObjects", o.delete_objects, "delete", right="write"),
    # anything else with a bucket sub-resource is not implemented
    *[_r(m, "bucket", "NotImplemented", b.not_implemented, sub, right="list" if m == "GET" else "write") for sub in UNSUPPORTED_BUCKET for m in ("GET", "PUT", "DELETE", "POST")],
    # buckets
    _r("GET", "bucket", "ListObjectsV2", ls.list_objects_v2, "list-type=2", right="list", public=True),
    _r("GET", "bucket", "ListObjects", ls.list_objects, right="list", public=True),
    _r("PUT", "bucket", "CreateBucket", b.create_bucket, right="admin"),
    _r("DELETE", "bucket", "DeleteBucket", b.delete_bucket, right="admin"),
    _r("HEAD", "bucket", "HeadBucket", b.head_bucket, right="list", public=True),
    # browser form uploads: the form's signed policy, not the request, says who writes (gateway.ops.post)
    _r("POST", "bucket", "PostObject", po.post_object, right="write", unsigned=True),
    # multipart
    _r("POST", "object", "CreateMultipartUpload", mp.create_multipart_upload, "uploads", right="write"),
    _r("POST", "object", "CompleteMultipartUpload", mp.complete_multipart_upload, "uploadId", right="write"),
    _r("PUT", "object", "UploadPartCopy", mp.upload_part_copy, "partNumber", "uploadId", header="x-amz-copy-source", right="write"),
    _r("PUT", "object", "UploadPart", mp.upload_part, "partNumber", "uploadId", right="write"),
    _r("GET", "object", "ListParts", mp.list_parts, "uploadId", right="write"),
    _r("DELETE", "object", "AbortMultipartUpload", mp.abort_multipart_upload, "uploadId", right="write"),
    # object sub-resources
    _r("GET", "object", "GetObjectAttributes", at.get_object_attributes, "attributes", right="read"),
    _r("GET", "object", "GetObjectTagging", tg.get_object_tagging, "tagging", right="read"),
    _r("PUT", "object", "PutObjectTagging", tg.put_object_tagging, "tagging", right="write"),
    _r("DELETE", "object", "DeleteObjectTagging", tg.delete_object_tagging, "tagging", right="write"),
    _r("PUT", "object", "PutObjectRetention", lk.put_object_retention, "retention", right="write"),
    _r("GET", "object", "GetObjectRetention", lk.get_object_retention, "retention", right="read"),
    _r("PUT", "object", "PutObjectLegalHold", lk.put_object_legal_hold, "legal-hold", right="write"),
    _r("GET", "object", "GetObjectLegalHold", lk.get_object_legal_hold, "legal-hold", right="read"),
    *[_r(m, "object", "NotImplemented", b.not_implemented, sub, right="read" if m == "GET" else "write") for sub in UNSUPPORTED_OBJECT for m in ("GET", "PUT", "DELETE", "POST")],
    # objects
    _r("PUT", "object", "CopyObject", o.copy_object, header="x-amz-copy-source", right="write"),
    _r("PUT", "object", "PutObject", o.put_object, right="write"),
    _r("GET", "object", "GetObject", o.get_object, right="read", public=True),
    _r("HEAD", "object", "HeadObject", o.head_object, right="read", public=True),
    _r("DELETE", "object", "DeleteObject", o.delete_object, right="write"),
]  # fmt: skip


@dataclass(frozen=True)
class _Lines:
    """The table's lines for one (method, target), in table order, and what a query must hold for any
    line with query terms to match: a query holding none of ``names`` can only match a line without."""

    all: list[Route]
    names: frozenset[str]
    plain: list[Route]


_index: dict[tuple[str, str], _Lines] = {}
_indexed: tuple[list[Route], int] | None = None
_NO_LINES = _Lines([], frozenset(), [])


def _candidates(method: str, target: Target) -> _Lines:
    """The table's lines for (method, target): a dict lookup instead of a scan of every line per
    request. Rebuilt if the table changed (the list's identity or length), so it is never stale."""
    global _indexed
    if _indexed is None or _indexed[0] is not ROUTES or _indexed[1] != len(ROUTES):
        grouped: dict[tuple[str, str], list[Route]] = {}
        for route in ROUTES:
            grouped.setdefault((route.method, route.target), []).append(route)
        _index.clear()
        for where, lines in grouped.items():
            names = frozenset(name for route in lines for name, _ in route.query)
            _index[where] = _Lines(lines, names, [route for route in lines if not route.query])
        _indexed = (ROUTES, len(ROUTES))
    return _index.get((method, target), _NO_LINES)


def match(method: str, target: Target, query: Mapping[str, str], headers: Mapping[str, str]) -> Route | None:
    """The first line of the table that ``Route.matches``; the index already matched method and target,
    so only the query terms and the header are checked here. A query naming no sub-resource of those
    lines (a plain or presigned GET of an object) tries only the lines without query terms, which are
    the ones that could match it, in the same order."""
    lines = _candidates(method, target)
    if lines.names.isdisjoint(query):
        for route in lines.plain:
            if route.header is None or route.header in headers:
                return route
        return None
    for route in lines.all:
        if route.query and not all(
            name in query and value in (None, query[name]) for name, value in route.query
        ):
            continue
        if route.header is None or route.header in headers:
            return route
    return None
