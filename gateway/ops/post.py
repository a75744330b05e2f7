"""POST object: a browser's form upload (``POST /bucket`` with multipart/form-data).

The fields before the file part are read first (bounded) and decide everything: who signed the policy
(gateway.postpolicy), whether the form obeys it, the key (``${filename}`` replaced), the metadata, the
checksums. Only then does the file part flow, as it arrives, into the backend's put_object, its size
held to the policy's content-length-range and its checksums verified before the store commits: a form
that breaks a rule stores nothing. Fields after the file count for nothing, as on S3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote, urlencode, urlsplit

from starlette.responses import Response

from backends.sse import using
from gateway import objectacl, postpolicy, sse
from gateway.acl import GRANT_HEADERS
from gateway.auth import new_payload_decoder
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.headers import META_PREFIX, checksum_headers, meta_from_headers
from gateway.ops.acls import write_acl
from gateway.ops.encryption import secure
from gateway.ops.objects import check_key
from gateway.payload import PayloadDecoder
from gateway.postform import FormParser, FormReader
from gateway.tagging import tags_from_document
from gateway.unsupported import refuse_unsupported
from gateway.xmlio import Doc, add

#: Form fields that set the object's content headers (the same names as PutObject's headers).
CONTENT_FIELDS = (
    "content-type", "cache-control", "content-disposition", "content-encoding", "content-language",
    "expires", "x-amz-storage-class",
)  # fmt: skip
#: Form fields that describe the file's bytes, as a PutObject's headers do.
INTEGRITY_FIELDS = ("content-md5",)
#: Form fields whose header twin the unsupported-protection table judges (``acl`` is ``x-amz-acl``).
AS_HEADERS = {"acl": "x-amz-acl"}
ACL_HEADERS = ("x-amz-acl", *GRANT_HEADERS)


class FormFileBody:
    """The file part as a ``PutBody``: bounded by the policy's content-length-range, verified by its
    checksum fields, and raising before its end (so before any commit) when either does not hold."""

    size: int | None = None

    def __init__(self, reader: FormReader, decoder: PayloadDecoder, low: int | None, high: int | None):
        self._reader = reader
        self._decoder = decoder
        self._low = low
        self._high = high
        self.length = 0

    @property
    def checksums(self) -> dict[str, str]:
        return self._decoder.checksums

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        async for chunk in self._reader.file_data():
            self.length += len(chunk)
            if self._high is not None and self.length > self._high:
                raise S3Error(
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                    MaxSizeAllowed=str(self._high),
                )
            self._decoder.feed(chunk)
            yield chunk
        if self._low is not None and self.length < self._low:
            raise S3Error(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(self.length),
                MinSizeAllowed=str(self._low),
            )
        self._decoder.finish()


async def _authorise(ctx: Ctx, bucket: str, key: str, access_key: str | None) -> None:
    """The signer (or an anonymous form) needs s3:PutObject on the key, as a PUT would: configured
    rights, the bucket policy and ACLs (gateway.access); a bucket configured read-write for everyone
    takes unsigned forms."""
    if access_key is None and ctx.policy.is_public_write(bucket) and bucket not in ctx.policy.reserved:
        return
    await ctx.access.decide(access_key, "PutObject", bucket, key, ctx.facts, right="write")


def _decoder(fields: Mapping[str, str]) -> PayloadDecoder:
    """The verifier of the file's bytes, from the form's checksum fields (as PutObject's headers)."""
    headers = {n: v for n, v in fields.items() if n.startswith("x-amz-checksum-") or n in INTEGRITY_FIELDS}
    algorithm = headers.pop("x-amz-checksum-algorithm", None)
    if algorithm is not None:
        headers["x-amz-sdk-checksum-algorithm"] = algorithm
    return new_payload_decoder(headers, content_sha256=None)


def _meta_fields(fields: Mapping[str, str]) -> dict[str, str]:
    return {n: v for n, v in fields.items() if n in CONTENT_FIELDS or n.startswith(META_PREFIX)}


def _location(ctx: Ctx, key: str) -> str:
    """The new object's URL, addressed as the form was (path-style or virtual-host, any path prefix)."""
    base = ctx.request.url.path.rstrip("/")
    return f"{ctx.request.url.scheme}://{ctx.request.headers.get('host', '')}{base}/{quote(key, safe='/')}"


def _redirect(target: str, bucket: str, key: str, etag: str) -> str | None:
    """success_action_redirect with bucket, key and etag added; None when it is no usable URL (S3 then
    answers as without it)."""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = urlencode({"bucket": bucket, "key": key, "etag": f'"{etag}"'})
    return f"{target}{'&' if parts.query else '?'}{query}"


async def post_object(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    reader = FormReader(ctx.body, FormParser(ctx.headers.get("content-type")))
    fields = await reader.fields()
    if reader.file is None:
        raise S3Error("IncorrectNumberOfFilesInPostRequest", ArgumentName="file", ArgumentValue="0")
    if "key" not in fields:
        raise postpolicy.missing_field("key")
    access_key = postpolicy.authenticate(fields, ctx.policy.secret_for)
    low = high = None
    if "policy" in fields:
        policy = postpolicy.parse_policy(fields["policy"])
        postpolicy.check_policy(policy, fields, bucket, dt.datetime.now(dt.timezone.utc))
        low, high = policy.length_range
    key = fields["key"].replace("${filename}", reader.file.filename or "")
    if not key:
        raise S3Error("InvalidArgument", "User key must have a length greater than 0.", ArgumentName="key")
    check_key(key)
    await _authorise(ctx, bucket, key, access_key)
    owner = (await ctx.bucket_owner()).canonical_id
    as_headers = {AS_HEADERS.get(n, n): v for n, v in fields.items()}
    encrypting = ctx.backend.capabilities_for(bucket).encryption
    refuse_unsupported(as_headers, owner, encrypting=encrypting)
    acl = await write_acl(ctx, bucket, {n: v for n, v in as_headers.items() if n in ACL_HEADERS})
    meta = objectacl.attach(meta_from_headers(_meta_fields(fields)), acl)
    if "tagging" in fields:  # S3's form field: a Tagging document, as PutObjectTagging's body
        meta.tags = tags_from_document(fields["tagging"].encode())
    body = FormFileBody(reader, _decoder(fields), low, high)
    encryption: dict[str, str] = {}
    if encrypting:  # the form's SSE fields are its SSE request, as a PutObject's headers are
        request = sse.request_for("PutObject", as_headers, secure=secure(ctx))
        with using(request):
            info = await ctx.backend.put_object(bucket, key, body, meta)
        encryption = sse.answer_headers(sse.written(request))
    else:
        info = await ctx.backend.put_object(bucket, key, body, meta)
    await reader.drain()
    etag = f'"{info.etag}"'
    headers = {
        "ETag": etag,
        "Location": _location(ctx, key),
        **checksum_headers(body.checksums),
        **encryption,
    }
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    target = _redirect(redirect, bucket, key, info.etag) if redirect else None
    if target is not None:
        return empty(303, {**headers, "Location": target})
    status = fields.get("success_action_status", "").strip()
    if status == "201":
        doc = Doc("PostResponse", ns=False)
        for name, value in (
            ("Location", headers["Location"]),
            ("Bucket", bucket),
            ("Key", key),
            ("ETag", etag),
        ):
            add(doc.root, name, value)
        return xml_response(doc, 201, headers)
    return empty(200 if status == "200" else 204, headers)
