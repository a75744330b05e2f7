"""A strict Huawei OBS wire emulator: OBS signatures, x-obs-* headers, OBS error XML.

Run: ``python -m tests.emulators.obs --port P --access-key AK --secret-key SK [--domain obs.localtest]
[--security-token T] [--data-dir D]``.

Addressing: virtual-host (``Host: <bucket>.<domain>``, as on Huawei Cloud) or path-style
(``/<bucket>/<key>``, as an IP endpoint of a private deployment is addressed). Every request but none
must carry ``Authorization: OBS ak:signature`` (``obs_auth``); S3 signatures and ``x-amz-*`` headers are
refused.

Served: ListBuckets, CreateBucket (re-creating an owned bucket succeeds, as on OBS), HeadBucket,
DeleteBucket, ListObjects (v1: prefix, marker, delimiter, max-keys, encoding-type=url), ListMultipartUploads,
PutObject (Content-Length required), CopyObject (COPY/REPLACE, from a version), GetObject/HeadObject
(Range, conditions, versionId), DeleteObject (versionId, delete markers), Put/GetBucketVersioning,
ListVersions (``obs_versions``), Put/Get/DeleteObjectTagging and ``x-obs-tagging`` (``obs_tagging``),
InitiateMultipartUpload, UploadPart, CopyPart, CompleteMultipartUpload
(ascending order, ETags, 100 KB minimum for all but the last part), AbortMultipartUpload, ListParts.
Anything else answers 501 NotImplemented. Errors are OBS's ``<Error>`` document without namespace, with
``x-obs-request-id`` and ``x-obs-id-2``; successful XML carries OBS's namespace.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from urllib.parse import unquote

from tests.emulators.cli import run_cli
from tests.emulators.core import EmulatorError, ErrorDialect, Request, Response, new_request_id
from tests.emulators.obs_auth import Credentials, verify
from tests.emulators.obs_ops import Operations
from tests.emulators.store import Store

OBS_ERRORS = ErrorDialect(namespace=None, request_id_header="x-obs-request-id", host_id="obs.localtest")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

BucketHandler = Callable[[Request, str], Response]
ObjectHandler = Callable[[Request, str, str], Response]


class ObsEmulator:
    """Addressing, then the signature, then one operation handler."""

    def __init__(self, store: Store, creds: Credentials, domain: str):
        self.creds = creds
        self.domain = domain.lower()
        self.ops = Operations(store)

    def __call__(self, req: Request) -> Response:
        request_id = new_request_id()
        try:
            response = self._route(req)
        except EmulatorError as err:
            headers = [("Content-Type", "application/xml"), *err.headers.items()]
            if req.method == "HEAD":
                response = Response(err.status, headers, iter(()), length=0)
            else:
                response = Response(err.status, headers, OBS_ERRORS.render(err, request_id))
        response.headers += [("x-obs-request-id", request_id), ("x-obs-id-2", request_id * 2)]
        response.headers.append(("Server", "OBS"))
        return response

    def _address(self, req: Request) -> tuple[str | None, str, bool]:
        """(bucket, key, virtual_host) from Host and path."""
        if not req.path.startswith("/"):
            raise EmulatorError(400, "InvalidURI", "The request target is not a path.")
        host = req.host.rsplit(":", 1)[0].lower()
        if host.endswith("." + self.domain):
            bucket: str | None = host[: -len(self.domain) - 1]
            key, virtual = unquote(req.path[1:]), True
        else:
            name, _, rest = req.path[1:].partition("/")
            bucket, key, virtual = (unquote(name) or None), unquote(rest), False
        if bucket is not None and not _BUCKET_RE.match(bucket):
            raise EmulatorError(
                400, "InvalidBucketName", "The specified bucket is not valid.", BucketName=bucket
            )
        return bucket, key, virtual

    def _route(self, req: Request) -> Response:
        bucket, key, virtual = self._address(req)
        verify(req, bucket, virtual, self.creds)
        if bucket is None:
            if req.method != "GET":
                raise EmulatorError(
                    405, "MethodNotAllowed", "The specified method is not allowed against this resource."
                )
            return self.ops.list_buckets(req)
        if not key:
            return self._bucket_handler(req)(req, bucket)
        return self._object_handler(req)(req, bucket, key)

    def _bucket_handler(self, req: Request) -> BucketHandler:
        ops = self.ops
        table: list[tuple[str, str | None, BucketHandler]] = [
            ("PUT", "versioning", ops.put_versioning),
            ("PUT", None, ops.create_bucket),
            ("HEAD", None, ops.head_bucket),
            ("DELETE", None, ops.delete_bucket),
            ("GET", "uploads", ops.list_uploads),
            ("GET", "versioning", ops.get_versioning),
            ("GET", "versions", ops.list_versions),
            ("GET", None, ops.list_objects),
        ]
        return _pick(req, table)

    def _object_handler(self, req: Request) -> ObjectHandler:
        ops = self.ops
        copy = req.headers.get("x-obs-copy-source") is not None
        table: list[tuple[str, str | None, ObjectHandler]] = [
            ("PUT", "tagging", ops.put_tagging),
            ("GET", "tagging", ops.get_tagging),
            ("DELETE", "tagging", ops.delete_tagging),
            ("PUT", "uploadId", ops.copy_part if copy else ops.upload_part),
            ("PUT", None, ops.copy_object if copy else ops.put_object),
            ("GET", "uploadId", ops.list_parts),
            ("GET", None, ops.get_object),
            ("HEAD", None, ops.get_object),
            ("DELETE", "uploadId", ops.abort_upload),
            ("DELETE", None, ops.delete_object),
            ("POST", "uploads", ops.initiate_upload),
            ("POST", "uploadId", ops.complete_upload),
        ]
        return _pick(req, table)


def _pick(
    req: Request, table: list[tuple[str, str | None, Callable[..., Response]]]
) -> Callable[..., Response]:
    for method, sub, handler in table:
        if method == req.method and (sub is None or req.has(sub)):
            return handler
    raise EmulatorError(501, "NotImplemented", "The operation is not implemented by this emulator.")


def main(argv: list[str] | None = None) -> int:
    def app(args: argparse.Namespace, store: Store) -> ObsEmulator:
        return ObsEmulator(
            store, Credentials(args.access_key, args.secret_key, args.security_token), args.domain
        )

    return run_cli("python -m tests.emulators.obs", __doc__.splitlines()[0], "obs.localtest", app, argv)


if __name__ == "__main__":
    sys.exit(main())
