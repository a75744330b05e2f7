"""Multipart uploads: create, upload part (and part copy), complete, abort, list parts, list uploads.

State lives in the backend (its own multipart), so any gateway process can continue an upload another
one started. The part rules clients rely on (ascending order, part numbers 1-10000) are checked here,
before the backend is asked; size and ETag rules are the backend's, which knows the parts.
"""

from __future__ import annotations

from lxml import etree
from starlette.responses import Response

from backends import errors as be
from backends.base import MAX_PART_NUMBER, CompletedPart, PartInfo
from backends.wire.checksums import ALGORITHMS, combine_composite, combine_full_object
from backends.wire.etag import normal_etag
from backends.wire.xml import child_text, children
from gateway import conditions, objectacl
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error
from gateway.headers import checksum_headers, meta_from_headers
from gateway.ops import objectlock
from gateway.ops.acls import write_acl
from gateway.ops.buckets import owner
from gateway.ops.listing import key_encoder
from gateway.ops.objects import check_key, parse_copy_source
from gateway.ops.versions import version_headers
from gateway.xmlio import Doc, add, add_all

FULL_OBJECT_ALGORITHMS = ("crc32", "crc32c", "crc64nvme")
CHECKSUM_ELEMENTS = {
    f"Checksum{alg.upper()}": alg for alg in ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
}


def _part_number(ctx: Ctx) -> int:
    raw = ctx.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
        raise S3Error(
            "InvalidArgument", f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
        )
    return int(raw)


def _upload_id(ctx: Ctx) -> str:
    upload_id = ctx.query.get("uploadId", "")
    if not upload_id:
        raise S3Error("NoSuchUpload")
    return upload_id


async def create_multipart_upload(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    check_key(key)
    meta = objectacl.attach(meta_from_headers(ctx.headers), await write_acl(ctx, bucket))
    meta = meta.copy(**await objectlock.new_version_lock(ctx, bucket))
    algorithm = ctx.headers.get("x-amz-checksum-algorithm")
    headers: dict[str, str] = {}
    if algorithm:
        alg = algorithm.lower()
        if alg not in ("crc32", "crc32c", "crc64nvme", "sha1", "sha256"):
            raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported.")
        kind = ctx.headers.get("x-amz-checksum-type", "COMPOSITE").upper()
        if kind not in ("COMPOSITE", "FULL_OBJECT"):
            raise S3Error("InvalidRequest", "The x-amz-checksum-type header value is invalid.")
        if kind == "FULL_OBJECT" and alg not in FULL_OBJECT_ALGORITHMS:
            raise S3Error(
                "InvalidRequest",
                f"The FULL_OBJECT checksum type cannot be used with the {alg} checksum algorithm.",
            )
        meta.checksums = {alg: ""}
        meta.checksum_type = kind
        headers = {"x-amz-checksum-algorithm": algorithm.upper(), "x-amz-checksum-type": kind}
    upload_id = await ctx.backend.create_multipart_upload(bucket, key, meta)
    doc = Doc("InitiateMultipartUploadResult")
    add(doc.root, "Bucket", bucket)
    add(doc.root, "Key", key)
    add(doc.root, "UploadId", upload_id)
    return xml_response(doc, headers=headers)


async def upload_part(ctx: Ctx) -> Response:
    number = _part_number(ctx)
    part = await ctx.backend.upload_part(ctx.need_bucket, ctx.need_key, _upload_id(ctx), number, ctx.body)
    headers = {"ETag": f'"{part.etag}"'}
    headers.update(checksum_headers(ctx.body.checksums))
    return empty(200, headers)


async def upload_part_copy(ctx: Ctx) -> Response:
    number = _part_number(ctx)
    upload_id = _upload_id(ctx)
    src_bucket, src_key = parse_copy_source(ctx.headers["x-amz-copy-source"])
    await ctx.access.decide(ctx.auth.access_key, "GetObject", src_bucket, src_key, ctx.facts, right="read")
    span = conditions.parse_copy_range(ctx.headers.get("x-amz-copy-source-range"))
    source = await ctx.backend.head_object(src_bucket, src_key)
    conditions.check(
        ctx.headers, source.etag, source.last_modified, prefix="x-amz-copy-source-if-", read=False
    )
    if span is not None and span[1] >= source.size:
        raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{source.size}"})
    part = await ctx.backend.upload_part_copy(
        ctx.need_bucket, ctx.need_key, upload_id, number, src_bucket, src_key, span
    )
    doc = Doc("CopyPartResult")
    add(doc.root, "LastModified", part.last_modified)
    add(doc.root, "ETag", f'"{part.etag}"')
    for alg, value in part.checksums.items():
        add(doc.root, "Checksum" + alg.upper(), value)
    return xml_response(doc)


def parse_complete(root: etree._Element) -> list[CompletedPart]:
    parts: list[CompletedPart] = []
    for el in children(root, "Part"):
        number = child_text(el, "PartNumber")
        etag = child_text(el, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise S3Error("MalformedXML")
        checksums = {}
        for name, alg in CHECKSUM_ELEMENTS.items():
            value = child_text(el, name)
            if value:
                checksums[alg] = value.strip()
        parts.append(CompletedPart(int(number), normal_etag(etag), checksums))
    if not parts:
        raise S3Error("MalformedXML")
    numbers = [p.part_number for p in parts]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise S3Error("InvalidPartOrder")
    if numbers[0] < 1 or numbers[-1] > MAX_PART_NUMBER:
        raise S3Error("InvalidPart")
    return parts


async def complete_multipart_upload(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    upload_id = _upload_id(ctx)
    ctx.auth.payload.ignore_checksum_headers()  # they describe the object, not this XML body
    parts = parse_complete(await ctx.read_xml())
    await _verify_object_checksum(ctx, upload_id, parts)
    await _verify_object_size(ctx, upload_id, parts)
    cond = conditions.write_condition(ctx.headers)
    with conditions.deciding(cond):
        info = await ctx.backend.complete_multipart_upload(bucket, key, upload_id, parts, cond)
    doc = Doc("CompleteMultipartUploadResult")
    add(doc.root, "Location", f"/{bucket}/{key}")
    add(doc.root, "Bucket", bucket)
    add(doc.root, "Key", key)
    add(doc.root, "ETag", f'"{info.etag}"')
    for alg, value in info.meta.checksums.items():
        if value:
            add(doc.root, "Checksum" + alg.upper(), value)
    if info.meta.checksum_type and any(info.meta.checksums.values()):
        add(doc.root, "ChecksumType", info.meta.checksum_type)
    return xml_response(doc, headers=version_headers(info))


async def _stored_parts(ctx: Ctx, upload_id: str) -> dict[int, PartInfo] | None:
    """The upload's parts; None when the store no longer has the upload (unknown, or completed: a
    repeated completion is answered by the backend, which knows which it is)."""
    parts: dict[int, PartInfo] = {}
    marker = 0
    while True:
        try:
            page = await ctx.backend.list_parts(ctx.need_bucket, ctx.need_key, upload_id, marker, 1000)
        except be.NoSuchUpload:
            return None
        parts.update((p.part_number, p) for p in page.parts)
        if not page.is_truncated or page.next_part_number_marker is None:
            return parts
        marker = page.next_part_number_marker


async def _verify_object_size(ctx: Ctx, upload_id: str, parts: list[CompletedPart]) -> None:
    """``x-amz-mp-object-size`` asks for the assembled size to be checked: before anything commits, from
    the parts' stored sizes (a part the request names and the store lacks is the completion's InvalidPart)."""
    raw = ctx.headers.get("x-amz-mp-object-size")
    if raw is None:
        return
    if not raw.strip().isdigit():
        raise S3Error(
            "InvalidArgument",
            "The x-amz-mp-object-size header must be a non-negative integer.",
            ArgumentName="x-amz-mp-object-size",
            ArgumentValue=raw,
        )
    stored = await _stored_parts(ctx, upload_id)
    if stored is None:
        return
    chosen = [stored.get(p.part_number) for p in parts]
    if all(c is not None for c in chosen) and sum(c.size for c in chosen if c) != int(raw):
        raise S3Error(
            "InvalidRequest",
            "The provided 'x-amz-mp-object-size' header value does not match the size of the parts.",
        )


async def _verify_object_checksum(ctx: Ctx, upload_id: str, parts: list[CompletedPart]) -> None:
    """A whole-object checksum sent with CompleteMultipartUpload is checked before anything commits,
    from the parts' stored checksums (stores that keep none cannot be checked, and are not)."""
    expected = {
        alg: ctx.headers[f"x-amz-checksum-{alg}"]
        for alg in ALGORITHMS
        if f"x-amz-checksum-{alg}" in ctx.headers
    }
    if not expected:
        return
    stored = await _stored_parts(ctx, upload_id)
    if stored is None:
        return
    chosen = [stored.get(p.part_number) for p in parts]
    if any(c is None for c in chosen):
        raise S3Error("InvalidPart")
    kind = ctx.headers.get("x-amz-checksum-type", "").upper()
    for alg, value in expected.items():
        sums = [c.checksums.get(alg) for c in chosen if c is not None]
        if not all(sums):
            continue
        full = alg in FULL_OBJECT_ALGORITHMS and (kind == "FULL_OBJECT" or (not kind and "-" not in value))
        if full:
            computed = combine_full_object(
                alg, [(s, c.size) for s, c in zip(sums, chosen, strict=True) if s and c]
            )
        else:
            computed = combine_composite(alg, [s for s in sums if s])
        if computed.split("-")[0] != value.strip().split("-")[0]:
            raise S3Error(
                "BadDigest", f"The {alg.upper()} you specified did not match the calculated checksum."
            )


async def abort_multipart_upload(ctx: Ctx) -> Response:
    await ctx.backend.abort_multipart_upload(ctx.need_bucket, ctx.need_key, _upload_id(ctx))
    return empty(204)


async def list_parts(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    upload_id = _upload_id(ctx)
    marker = ctx.int_param("part-number-marker", 0)
    max_parts = ctx.int_param("max-parts", 1000, high=1000)
    page = await ctx.backend.list_parts(bucket, key, upload_id, marker, max_parts)
    doc = Doc("ListPartsResult")
    add_all(doc.root, [("Bucket", bucket), ("Key", key), ("UploadId", upload_id)])
    bucket_owner = await ctx.bucket_owner()  # uploads record no initiator: the bucket's owner stands in
    owner(doc.root, bucket_owner, "Initiator")
    owner(doc.root, bucket_owner)
    add(doc.root, "StorageClass", "STANDARD")
    add(doc.root, "PartNumberMarker", marker)
    if page.next_part_number_marker is not None:
        add(doc.root, "NextPartNumberMarker", page.next_part_number_marker)
    add(doc.root, "MaxParts", max_parts)
    add(doc.root, "IsTruncated", page.is_truncated)
    for part in page.parts:
        el = add(doc.root, "Part")
        add(el, "PartNumber", part.part_number)
        add(el, "LastModified", part.last_modified)
        add(el, "ETag", f'"{part.etag}"')
        add(el, "Size", part.size)
        for alg, value in part.checksums.items():
            add(el, "Checksum" + alg.upper(), value)
    return xml_response(doc)


async def list_multipart_uploads(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter", "")
    key_marker = ctx.query.get("key-marker", "")
    id_marker = ctx.query.get("upload-id-marker", "") if key_marker else ""
    max_uploads = ctx.int_param("max-uploads", 1000, high=1000)
    enc = key_encoder(ctx)
    page = await ctx.backend.list_multipart_uploads(
        bucket, prefix, delimiter, key_marker, id_marker, max_uploads
    )
    doc = Doc("ListMultipartUploadsResult")
    add(doc.root, "Bucket", bucket)
    add(doc.root, "KeyMarker", enc(key_marker))
    add(doc.root, "UploadIdMarker", id_marker)
    add_all(
        doc.root,
        [
            ("NextKeyMarker", enc(page.next_key_marker or "") if page.is_truncated else None),
            ("NextUploadIdMarker", page.next_upload_id_marker if page.is_truncated else None),
            ("Delimiter", enc(delimiter) if delimiter else None),
            ("Prefix", enc(prefix)),
            ("EncodingType", "url" if "encoding-type" in ctx.query else None),
        ],
    )
    add(doc.root, "MaxUploads", max_uploads)
    add(doc.root, "IsTruncated", page.is_truncated)
    bucket_owner = await ctx.bucket_owner()  # uploads record no initiator: the bucket's owner stands in
    for upload in page.uploads:
        el = add(doc.root, "Upload")
        add(el, "Key", enc(upload.key))
        add(el, "UploadId", upload.upload_id)
        owner(el, bucket_owner, "Initiator")
        owner(el, bucket_owner)
        add(el, "StorageClass", "STANDARD")
        add(el, "Initiated", upload.initiated)
    for cp in page.common_prefixes:
        add(add(doc.root, "CommonPrefixes"), "Prefix", enc(cp))
    return xml_response(doc)
