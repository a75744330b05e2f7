"""A strict Alibaba OSS wire emulator: OSS signatures, virtual-host addressing, namespace-less XML.

Run: ``python -m tests.emulators.oss --port P --access-key AK --secret-key SK [--region R]
[--domain oss.localtest] [--security-token T] [--data-dir D]``.

Addressing is virtual-host only, as on real OSS: ``Host: <bucket>.<domain>[:port]``. A request to the
bare domain (or to an IP) may only list buckets; a bucket in the path is SecondLevelDomainForbidden.
Loopback clients reach it by dialling 127.0.0.1 while sending the virtual-host name in ``Host``.

Served: ListBuckets, PutBucket, DeleteBucket, GetBucketInfo, ListObjectsV2, ListMultipartUploads,
PutObject, CopyObject, GetObject (Range, x-oss-range-behavior, conditions, response-* overrides),
HeadObject, DeleteObject, InitiateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload
(ascending order, ETags, 100 KiB minimum for all but the last part), AbortMultipartUpload, ListParts.
Anything else answers 501 NotImplemented. ETags go out as quoted uppercase hex; errors as OSS's
``<Error>`` document without namespace, with ``x-oss-request-id`` (and ``x-oss-err`` on HEAD).
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from collections.abc import Callable
from urllib.parse import unquote

from tests.emulators import oss_ops
from tests.emulators.cli import run_cli
from tests.emulators.core import EmulatorError, ErrorDialect, Request, Response, new_request_id
from tests.emulators.oss_auth import Credentials, verify
from tests.emulators.store import Store

OSS_ERRORS = ErrorDialect(namespace=None, request_id_header="x-oss-request-id", host_id="oss.localtest")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class OssEmulator:
    """The request router: addressing, then signature, then one operation handler."""

    def __init__(self, store: Store, creds: Credentials, domain: str):
        self.store = store
        self.creds = creds
        self.domain = domain.lower()
        self.ops = oss_ops.Operations(store, creds.region, self.domain)

    def __call__(self, req: Request) -> Response:
        request_id = new_request_id()
        try:
            response = self._route(req)
        except EmulatorError as err:
            response = self._error(req, err, request_id)
        response.headers.append(("x-oss-request-id", request_id))
        response.headers.append(("Server", "AliyunOSS"))
        return response

    def _error(self, req: Request, err: EmulatorError, request_id: str) -> Response:
        body = OSS_ERRORS.render(err, request_id)
        headers = [("Content-Type", "application/xml"), *err.headers.items()]
        if req.method == "HEAD":
            headers.append(("x-oss-err", base64.b64encode(body).decode()))
            headers.append(("x-oss-ec", err.code))
            return Response(err.status, headers, iter(()), length=0)
        return Response(err.status, headers, body)

    def _bucket_from_host(self, req: Request) -> str | None:
        host = req.host.rsplit(":", 1)[0].lower() if not req.host.startswith("[") else req.host
        if host.endswith("." + self.domain):
            bucket = host[: -len(self.domain) - 1]
            if not _BUCKET_RE.match(bucket):
                raise EmulatorError(
                    400, "InvalidBucketName", "The specified bucket is not valid.", BucketName=bucket
                )
            return bucket
        return None

    def _route(self, req: Request) -> Response:
        bucket = self._bucket_from_host(req)
        if not req.path.startswith("/"):
            raise EmulatorError(400, "InvalidArgument", "The request target is not a path.")
        if bucket is None:
            if req.path != "/":
                raise EmulatorError(
                    403,
                    "SecondLevelDomainForbidden",
                    "The bucket you are attempting to access must be addressed using OSS third level domain.",
                )
            verify(req, None, "", self.creds)
            if req.method != "GET":
                raise EmulatorError(
                    405, "MethodNotAllowed", "The specified method is not allowed against this resource."
                )
            self.ops.refuse_unknown(req, set())
            return self.ops.list_buckets(req)
        key = unquote(req.path[1:])
        verify(req, bucket, key, self.creds)
        handler = self._object_handler(req) if key else self._bucket_handler(req)
        return handler(req, bucket, key)

    def _bucket_handler(self, req: Request) -> Callable[[Request, str, str], Response]:
        ops = self.ops
        table: list[tuple[str, str | None, Callable[[Request, str, str], Response]]] = [
            ("PUT", "versioning", ops.put_versioning),
            ("PUT", None, ops.put_bucket),
            ("DELETE", None, ops.delete_bucket),
            ("GET", "bucketInfo", ops.get_bucket_info),
            ("GET", "uploads", ops.list_uploads),
            ("GET", "versioning", ops.get_versioning),
            ("GET", "versions", ops.list_versions),
            ("GET", None, ops.list_objects),
        ]
        return self._pick(req, table)

    def _object_handler(self, req: Request) -> Callable[[Request, str, str], Response]:
        ops = self.ops
        copy = req.headers.get("x-oss-copy-source") is not None
        table: list[tuple[str, str | None, Callable[[Request, str, str], Response]]] = [
            ("PUT", "tagging", ops.tagging.put),
            ("GET", "tagging", ops.tagging.get),
            ("DELETE", "tagging", ops.tagging.delete),
            ("PUT", "uploadId", ops.upload_part_copy if copy else ops.upload_part),
            ("PUT", None, ops.copy_object if copy else ops.put_object),
            ("GET", "uploadId", ops.list_parts),
            ("GET", None, ops.get_object),
            ("HEAD", None, ops.head_object),
            ("DELETE", "uploadId", ops.abort_upload),
            ("DELETE", None, ops.delete_object),
            ("POST", "uploads", ops.initiate_upload),
            ("POST", "uploadId", ops.complete_upload),
        ]
        return self._pick(req, table)

    def _pick(
        self, req: Request, table: list[tuple[str, str | None, Callable[[Request, str, str], Response]]]
    ) -> Callable[[Request, str, str], Response]:
        for method, sub, handler in table:
            if method == req.method and (sub is None or req.has(sub)):
                subs = {sub} if sub else set()
                if sub == "uploadId" and req.method == "PUT":
                    subs.add("partNumber")
                if sub is None and req.method in ("GET", "HEAD", "DELETE"):
                    subs.add("versionId")
                self.ops.refuse_unknown(req, subs)
                return handler
        raise EmulatorError(501, "NotImplemented", "The operation is not implemented by this emulator.")


def main(argv: list[str] | None = None) -> int:
    def app(args: argparse.Namespace, store: Store) -> OssEmulator:
        creds = Credentials(args.access_key, args.secret_key, args.region, args.security_token)
        return OssEmulator(store, creds, args.domain)

    return run_cli(
        "python -m tests.emulators.oss", __doc__.splitlines()[0], "oss.localtest", app, argv,
        add_arguments=lambda p: p.add_argument("--region", default="cn-hangzhou"),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
