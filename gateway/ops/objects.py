"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import unquote

from lxml import etree
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from backends import errors as be
from backends.base import (
    MAX_KEY_BYTES,
    ByteRange,
    ByteStream,
    DeleteResult,
    FileSpan,
    GetResult,
    ObjectInfo,
    ObjectMeta,
)
from backends.wholebody import WholeBody
from backends.wire.xml import child_text, children
from gateway import conditions, objectacl, parts, zerocopy
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error, from_backend
from gateway.fastheaders import WholeAnswer
from gateway.headers import (
    apply_overrides,
    check_overrides,
    checksum_headers,
    meta_from_headers,
    object_headers,
)
from gateway.ops import objectlock
from gateway.ops.acls import write_acl
from gateway.ops.versions import delete_headers, version_headers, version_param
from gateway.sse import changes_encryption
from gateway.tagging import tagging_directive, tags_from_headers
from gateway.xmlio import Doc, add

MAX_DELETE_KEYS = 1000
DELETE_CONCURRENCY = 16


def check_key(key: str) -> None:
    """What a new key may be, decided here so every backend stores the same keys: any Unicode but NUL,
    which stores disagree on (Ceph RGW refuses it, as does MinIO) and no client can list without
    encoding-type=url; every other control character is stored, as S3 stores it."""
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError")
    if "\x00" in key:
        raise S3Error("InvalidArgument", "Object keys may not contain the NUL character.", ArgumentName="key")


def put_headers(info: ObjectInfo, checksums: dict[str, str]) -> dict[str, str]:
    headers = {"ETag": f'"{info.etag}"', **version_headers(info)}
    headers.update(checksum_headers(checksums))
    return headers


async def put_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    check_key(key)
    meta = objectacl.attach(meta_from_headers(ctx.headers), await write_acl(ctx, bucket))
    lock = await objectlock.new_version_lock(ctx, bucket, put=True)
    if lock:  # {} outside Object Lock buckets: no copy to make
        meta = meta.copy(**lock)
    cond = conditions.write_condition(ctx.headers)  # decided by the backend with the write, atomically
    with conditions.deciding(cond):
        info = await ctx.backend.put_object(bucket, key, ctx.body, meta, cond)
    return empty(200, put_headers(info, ctx.body.checksums))


def _checksum_mode(ctx: Ctx) -> bool:
    return ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"


async def get_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    version = version_param(ctx.query)
    number = parts.part_number(ctx.query, ctx.headers)
    check_overrides(ctx.query)
    count = None
    if number is None:
        byte_range = conditions.parse_range(ctx.headers.get("range"))
        result = await ctx.backend.get_object(bucket, key, byte_range, version)
    else:
        result, count = await _open_part(ctx, bucket, key, number, version)
    try:
        conditions.check(ctx.headers, result.info.etag, result.info.last_modified)
    except S3Error as err:
        await _close(result.body)
        if err.code == "NotModified":
            return _not_modified(result.info)
        raise
    # A ranged read's checksum would be of the part served, which S3 does not send.
    checksum_mode = _checksum_mode(ctx) and result.span is None
    if checksum_mode:
        try:
            result.info = await ctx.backend.stored_checksums(bucket, key, result.info)
        except BaseException:
            await _close(result.body)
            raise
    headers = object_headers(result.info, checksum_mode=checksum_mode)
    headers.update(version_headers(result.info))
    headers.update(objectlock.lock_headers(result.info.meta))
    apply_overrides(headers, ctx.query)
    status = 200
    span = result.span
    if span is None and number is not None and result.info.size:
        span = (0, result.info.size - 1)  # part 1 of an object not uploaded in parts: all of it
    if count is not None:
        headers["x-amz-mp-parts-count"] = str(count)
    if span is not None:
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{result.info.size}"
        headers["Content-Length"] = str(end - start + 1)
        status = 206
    else:
        headers["Content-Length"] = str(result.info.size)
    if isinstance(result.body, WholeBody):
        # Read whole by the backend with the open: one plain answer, no stream, no disconnect watcher.
        return WholeAnswer(result.body.data, status, headers)
    if isinstance(result.body, FileSpan) and zerocopy.offered(ctx.request.scope):
        # Bytes of a file on a plain-HTTP connection: the server sends them with sendfile.
        return zerocopy.FileSpanResponse(result.body, status, headers)
    return StreamingResponse(
        _guarded(result.body),
        status_code=status,
        headers=headers,
        background=BackgroundTask(_close, result.body),
    )


async def _open_part(
    ctx: Ctx, bucket: str, key: str, number: int, version: str | None
) -> tuple[GetResult, int | None]:
    """Open part ``number``; the boundaries and the bytes must belong to one object, so a read that met
    an object replaced after its boundaries were read is done again."""
    for _ in range(3):
        info = await ctx.backend.head_object(bucket, key, version)
        read = await parts.locate(ctx.backend, bucket, key, number, info.etag, version)
        result = await ctx.backend.get_object(bucket, key, read.range, version)
        if result.info.etag == read.etag:
            return result, read.count
        await _close(result.body)
    raise S3Error("ServiceUnavailable", "The object kept changing while its part was read.")


async def _guarded(body: ByteStream) -> AsyncIterator[bytes]:
    """The body for the wire; a backend failure mid-stream cuts the connection (the status is gone)."""
    try:
        async for chunk in body:
            yield chunk
    except be.BackendError as exc:
        raise ConnectionAbortedError(str(exc)) from exc


async def _close(body: ByteStream) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing after a failure; the failure itself was reported
            pass


def _not_modified(info: ObjectInfo) -> Response:
    headers = object_headers(info)
    keep = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified", "Cache-Control", "Expires")}
    return Response(status_code=304, headers=keep)


async def head_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    version = version_param(ctx.query)
    number = parts.part_number(ctx.query, ctx.headers)
    check_overrides(ctx.query)
    info = await ctx.backend.head_object(bucket, key, version)
    try:
        conditions.check(ctx.headers, info.etag, info.last_modified)
    except S3Error as err:
        if err.code == "NotModified":
            return _not_modified(info)
        raise
    if _checksum_mode(ctx):
        info = await ctx.backend.stored_checksums(bucket, key, info)
    headers = object_headers(info, checksum_mode=_checksum_mode(ctx))
    headers.update(version_headers(info))
    headers.update(objectlock.lock_headers(info.meta))
    apply_overrides(headers, ctx.query)
    byte_range = conditions.parse_range(ctx.headers.get("range"))
    if number is not None:
        read = await parts.locate(ctx.backend, bucket, key, number, info.etag, version)
        byte_range = read.range or (ByteRange(0, None) if info.size else None)
        if read.count is not None:
            headers["x-amz-mp-parts-count"] = str(read.count)
    status = 200
    length = info.size
    if byte_range is not None:
        span = byte_range.resolve(info.size)
        if span is None:
            raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{info.size}"})
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{info.size}"
        length, status = span[1] - span[0] + 1, 206
    headers["Content-Length"] = str(length)
    return WholeAnswer(b"", status, headers)


async def delete_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    version = version_param(ctx.query)
    result: DeleteResult | None
    if version is not None and await objectlock.bypass_governance(ctx, bucket):
        result = await ctx.backend.delete_object_bypassing_governance(bucket, key, version)
    else:
        result = await ctx.backend.delete_object(bucket, key, version)
    return empty(204, delete_headers(result))


async def delete_objects(ctx: Ctx) -> Response:
    bucket = ctx.need_bucket
    root = await ctx.read_xml()
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    objects = children(root, "Object")
    keys = [child_text(obj, "Key") for obj in objects]
    versions = [child_text(obj, "VersionId") for obj in objects]
    if not keys or len(keys) > MAX_DELETE_KEYS or any(k is None for k in keys):
        raise S3Error("MalformedXML")
    await ctx.backend.head_bucket(bucket)
    bypass = await objectlock.bypass_governance(ctx, bucket)
    limit = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def one(key: str, version: str | None) -> DeleteResult | S3Error:
        async with limit:
            try:
                check_key(key)
                if version == "":
                    raise S3Error("InvalidArgument", "Version id cannot be the empty string")
                # Each key is its own s3:DeleteObject decision, as S3 makes it (a policy may deny a prefix).
                await ctx.access.decide(
                    ctx.auth.access_key, "DeleteObject", bucket, key, ctx.facts, right="write"
                )
                if bypass and version is not None:
                    return await ctx.backend.delete_object_bypassing_governance(bucket, key, version)
                return await ctx.backend.delete_object(bucket, key, version) or DeleteResult()
            except S3Error as err:
                return err
            except be.BackendError as exc:
                return from_backend(exc)

    results = await asyncio.gather(*(one(k, v) for k, v in zip(keys, versions, strict=True) if k is not None))
    doc = Doc("DeleteResult")
    for key, version, res in zip(keys, versions, results, strict=True):
        if isinstance(res, DeleteResult):
            if not quiet:
                deleted(add(doc.root, "Deleted"), key or "", version, res)
        else:
            el = add(doc.root, "Error")
            add(el, "Key", key)
            if version is not None:
                add(el, "VersionId", version)
            add(el, "Code", res.code)
            add(el, "Message", res.message)
    return xml_response(doc)


def deleted(el: etree._Element, key: str, version: str | None, result: DeleteResult) -> None:
    """A DeleteObjects ``Deleted`` entry, with the version and marker facts S3 reports."""
    add(el, "Key", key)
    if version is not None:
        add(el, "VersionId", version)
    if result.delete_marker:
        add(el, "DeleteMarker", True)
        if result.version_id is not None:
            add(el, "DeleteMarkerVersionId", result.version_id)


async def _copy_tags(
    ctx: Ctx,
    src_bucket: str,
    src_key: str,
    src_version: str | None,
    source: ObjectInfo,
    meta: ObjectMeta | None,
) -> ObjectMeta | None:
    """The destination's tags per ``x-amz-tagging-directive``: REPLACE takes ``x-amz-tagging`` (none
    when absent), COPY the source's. ``meta`` None (everything copied) stays None for COPY."""
    if tagging_directive(ctx.headers) == "REPLACE":
        fresh = meta if meta is not None else source.meta.copy()
        return fresh.copy(tags=tags_from_headers(ctx.headers) or {}, tag_count=None)
    if meta is None:
        return None
    try:
        tags = await ctx.backend.get_object_tagging(src_bucket, src_key, version_id=src_version)
    except be.NotImplementedByBackend:
        tags = {}  # a backend without tags: the source has none
    return meta.copy(tags=tags, tag_count=None)


def parse_copy_source(value: str) -> tuple[str, str]:
    """``/bucket/key`` or ``bucket/key``, URL-encoded, optionally ``?versionId=null`` (UploadPartCopy)."""
    bucket, key, version = parse_copy_source_version(value)
    if version is not None and version != "null":
        raise S3Error("NotImplemented", "Copying a part from a specific object version is not implemented.")
    return bucket, key


def parse_copy_source_version(value: str) -> tuple[str, str, str | None]:
    """``/bucket/key`` or ``bucket/key``, URL-encoded, optionally ``?versionId=<id>``: (bucket, key, id)."""
    raw, _, query = value.partition("?")
    if query and not query.startswith("versionId="):
        raise S3Error("InvalidArgument", "Invalid copy source.")
    version = query[len("versionId=") :] if query else None
    if version == "":
        raise S3Error("InvalidArgument", "Version id cannot be the empty string")
    try:
        source = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", "Invalid copy source encoding.") from None
    source = source.lstrip("/")
    bucket, sep, key = source.partition("/")
    if not bucket or not sep or not key:
        raise S3Error(
            "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"
        )
    return bucket, key, (unquote(version) if version is not None else None)


async def copy_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    check_key(key)
    src_bucket, src_key, src_version = parse_copy_source_version(ctx.headers["x-amz-copy-source"])
    await ctx.access.decide(ctx.auth.access_key, "GetObject", src_bucket, src_key, ctx.facts, right="read")
    directive = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    try:
        source = await ctx.backend.head_object(src_bucket, src_key, src_version)
    except be.DeleteMarkerVersion:
        raise S3Error(
            "InvalidRequest",
            "The source of a copy request may not specifically refer to a delete marker by version id.",
        ) from None
    conditions.check(
        ctx.headers, source.etag, source.last_modified, prefix="x-amz-copy-source-if-", read=False
    )
    meta = meta_from_headers(ctx.headers) if directive == "REPLACE" else None
    if (
        (src_bucket, src_key) == (bucket, key)
        and src_version is None
        and meta is None
        and "x-amz-storage-class" not in ctx.headers
        and not changes_encryption(ctx.headers)
    ):
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing "
            "the object's metadata, storage class, website redirect location or encryption attributes.",
        )
    if meta is None and "x-amz-storage-class" in ctx.headers:
        meta = source.meta.copy(storage_class=meta_from_headers(ctx.headers).storage_class)
    # The copy gets the ACL the request asks for, never the source's (as S3).
    acl = await write_acl(ctx, bucket)
    if acl is not None or objectacl.HIDDEN in source.meta.user:
        meta = objectacl.attach(meta if meta is not None else source.meta.copy(), acl)
    # A copy's lock is the request's or the destination's default, never the source's (as on S3).
    lock = await objectlock.new_version_lock(ctx, bucket)
    source_locked = any(getattr(source.meta, name) is not None for name in objectlock.LOCK_FIELDS)
    if lock or source_locked:
        empty_lock = dict.fromkeys(objectlock.LOCK_FIELDS)
        meta = (meta or source.meta).copy(**{**empty_lock, **lock})
    # Last: a meta made above from the source's (which a HEAD may give without its tags) gets them here.
    meta = await _copy_tags(ctx, src_bucket, src_key, src_version, source, meta)
    cond = conditions.write_condition(ctx.headers)  # on the destination
    with conditions.deciding(cond):
        info = await ctx.backend.copy_object(src_bucket, src_key, bucket, key, meta, cond, src_version)
    headers = version_headers(info)
    if source.version_id is not None:
        headers["x-amz-copy-source-version-id"] = source.version_id
    doc = Doc("CopyObjectResult")
    add(doc.root, "LastModified", info.last_modified)
    add(doc.root, "ETag", f'"{info.etag}"')
    for alg, value in info.meta.checksums.items():
        add(doc.root, "Checksum" + alg.upper(), value)
    return xml_response(doc, headers=headers)
