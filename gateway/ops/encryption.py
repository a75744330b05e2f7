"""Server-side encryption at the front end: bucket default encryption (Put/Get/DeleteBucketEncryption)
and the SSE scope every operation on an encrypting bucket runs in.

On a bucket whose backend encrypts (the ``encrypt`` composite) every object is stored encrypted, SSE-S3
unless the request brings an SSE-C key, as AWS S3 does since January 2023: GetBucketEncryption answers
the stored configuration, or AES256 when none was put (AWS's default), and PutBucketEncryption accepts
AES256 (aws:kms is NotImplemented). On any other bucket nothing is encrypted: GetBucketEncryption answers
ServerSideEncryptionConfigurationNotFoundError and PutBucketEncryption NotImplemented, so no client is
told its objects are encrypted when they are not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lxml import etree
from starlette.responses import Response

from backends.sse import using
from backends.wire.xml import child_text, children
from gateway import sse
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.xmlio import Doc, add

SETTING = "encryption"
Handler = Callable[[Ctx], Awaitable[Response]]


def _encrypting(ctx: Ctx) -> bool:
    return ctx.backend.capabilities_for(ctx.need_bucket).encryption


def secure(ctx: Ctx) -> bool:
    """The request came over TLS (to the gateway, or to a trusted proxy in front of it)."""
    if ctx.config.server.trust_forwarded and "x-forwarded-proto" in ctx.headers:
        return ctx.headers["x-forwarded-proto"].split(",")[0].strip().lower() == "https"
    return ctx.request.url.scheme == "https"


def _document(algorithm: str, bucket_key: bool) -> Doc:
    doc = Doc("ServerSideEncryptionConfiguration")
    rule = add(doc.root, "Rule")
    default = add(rule, "ApplyServerSideEncryptionByDefault")
    add(default, "SSEAlgorithm", algorithm)
    add(rule, "BucketKeyEnabled", "true" if bucket_key else "false")
    return doc


def _parse(root: etree._Element) -> tuple[str, bool]:
    """(algorithm, bucket key enabled) of a ServerSideEncryptionConfiguration; MalformedXML otherwise."""
    rules = children(root, "Rule")
    if etree.QName(root).localname != "ServerSideEncryptionConfiguration" or len(rules) != 1:
        raise S3Error("MalformedXML")
    defaults = children(rules[0], "ApplyServerSideEncryptionByDefault")
    if len(defaults) != 1:
        raise S3Error("MalformedXML")
    algorithm = child_text(defaults[0], "SSEAlgorithm")
    bucket_key = (child_text(rules[0], "BucketKeyEnabled") or "false").strip().lower()
    if algorithm is None or bucket_key not in ("true", "false"):
        raise S3Error("MalformedXML")
    if algorithm.startswith("aws:kms"):
        raise S3Error(
            "NotImplemented", "SSE-KMS is not implemented: the gateway encrypts with AES256 (SSE-S3)."
        )
    if algorithm != sse.AES256 or child_text(defaults[0], "KMSMasterKeyID") is not None:
        raise S3Error(
            "InvalidArgument", "The encryption method specified is not supported", ArgumentName="SSEAlgorithm"
        )
    return algorithm, bucket_key == "true"


async def get_bucket_encryption(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    if not _encrypting(ctx):
        raise S3Error("ServerSideEncryptionConfigurationNotFoundError", BucketName=bucket)
    stored = await ctx.settings.get(bucket, SETTING)
    if stored is not None:
        return Response(stored, media_type="application/xml")
    return xml_response(_document(sse.AES256, False))


async def put_bucket_encryption(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    if not _encrypting(ctx):
        raise S3Error("NotImplemented", "Server-side encryption is not configured for this bucket's backend.")
    algorithm, bucket_key = _parse(await ctx.read_xml())
    await ctx.settings.put(bucket, SETTING, _document(algorithm, bucket_key).to_bytes())
    return empty(200)


async def delete_bucket_encryption(ctx: Ctx) -> Response:
    """Back to the default (on an encrypting bucket: AES256, which is what AWS S3 does too)."""
    bucket = ctx.need_bucket
    await ctx.backend.head_bucket(bucket)
    if _encrypting(ctx):
        await ctx.settings.delete(bucket, SETTING)
    return empty(204)


async def in_sse_scope(handler: Handler, ctx: Ctx) -> Response:
    """Run an operation on an encrypting bucket: its SSE headers become the backend's SSE request, and a
    write's answer says how the object is encrypted (reads say it from the object, see gateway.headers)."""
    request = sse.request_for(ctx.operation, ctx.headers, secure=secure(ctx))
    with using(request):
        response = await handler(ctx)
    if ctx.operation in sse.WRITES and response.status_code < 300:
        response.headers.update(sse.answer_headers(sse.written(request)))
    return response
