"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import unquote

from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from backends import errors as be
from backends.base import MAX_KEY_BYTES, ByteStream, ObjectInfo
from backends.wholebody import WholeBody
from backends.wire.xml import child_text, children
from gateway import conditions
from gateway.context import Ctx, empty, xml_response
from gateway.errors import S3Error, from_backend
from gateway.headers import (
    apply_overrides,
    check_overrides,
    checksum_headers,
    meta_from_headers,
    object_headers,
)
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


def check_version(version_id: str | None) -> None:
    """Buckets are never versioned: version ``null`` is the object itself, any other id is invalid."""
    if version_id is not None and version_id != "null":
        raise S3Error(
            "InvalidArgument",
            "Invalid version id specified",
            ArgumentName="versionId",
            ArgumentValue=version_id,
        )


def put_headers(info: ObjectInfo, checksums: dict[str, str]) -> dict[str, str]:
    headers = {"ETag": f'"{info.etag}"'}
    headers.update(checksum_headers(checksums))
    return headers


async def put_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    check_key(key)
    meta = meta_from_headers(ctx.headers)
    cond = conditions.write_condition(ctx.headers)  # decided by the backend with the write, atomically
    with conditions.deciding(cond):
        info = await ctx.backend.put_object(bucket, key, ctx.body, meta, cond)
    return empty(200, put_headers(info, ctx.body.checksums))


def _checksum_mode(ctx: Ctx) -> bool:
    return ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"


async def get_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    check_version(ctx.query.get("versionId"))
    if "partNumber" in ctx.query:
        raise S3Error("NotImplemented", "GetObject with partNumber is not implemented.")
    check_overrides(ctx.query)
    byte_range = conditions.parse_range(ctx.headers.get("range"))
    result = await ctx.backend.get_object(bucket, key, byte_range)
    try:
        conditions.check(ctx.headers, result.info.etag, result.info.last_modified)
    except S3Error as err:
        await _close(result.body)
        if err.code == "NotModified":
            return _not_modified(result.info)
        raise
    # A ranged read's checksum would be of the part served, which S3 does not send.
    headers = object_headers(result.info, checksum_mode=_checksum_mode(ctx) and result.span is None)
    apply_overrides(headers, ctx.query)
    status = 200
    if result.span is not None:
        start, end = result.span
        headers["Content-Range"] = f"bytes {start}-{end}/{result.info.size}"
        headers["Content-Length"] = str(end - start + 1)
        status = 206
    else:
        headers["Content-Length"] = str(result.info.size)
    if isinstance(result.body, WholeBody):
        # Read whole by the backend with the open: one plain answer, no stream, no disconnect watcher.
        return Response(result.body.data, status_code=status, headers=headers)
    return StreamingResponse(
        _guarded(result.body),
        status_code=status,
        headers=headers,
        background=BackgroundTask(_close, result.body),
    )


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
    check_version(ctx.query.get("versionId"))
    if "partNumber" in ctx.query:
        raise S3Error("NotImplemented", "HeadObject with partNumber is not implemented.")
    check_overrides(ctx.query)
    info = await ctx.backend.head_object(bucket, key)
    try:
        conditions.check(ctx.headers, info.etag, info.last_modified)
    except S3Error as err:
        if err.code == "NotModified":
            return _not_modified(info)
        raise
    headers = object_headers(info, checksum_mode=_checksum_mode(ctx))
    apply_overrides(headers, ctx.query)
    byte_range = conditions.parse_range(ctx.headers.get("range"))
    status = 200
    length = info.size
    if byte_range is not None:
        span = byte_range.resolve(info.size)
        if span is None:
            raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{info.size}"})
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{info.size}"
        length, status = span[1] - span[0] + 1, 206
    response = Response(status_code=status, headers=headers)
    response.headers["Content-Length"] = str(length)
    return response


async def delete_object(ctx: Ctx) -> Response:
    check_version(ctx.query.get("versionId"))
    await ctx.backend.delete_object(ctx.need_bucket, ctx.need_key)
    return empty(204)


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
    limit = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def one(key: str, version: str | None) -> S3Error | None:
        async with limit:
            try:
                check_key(key)
                check_version(version)
                await ctx.backend.delete_object(bucket, key)
            except S3Error as err:
                return err
            except be.BackendError as exc:
                return from_backend(exc)
        return None

    results = await asyncio.gather(*(one(k, v) for k, v in zip(keys, versions, strict=True) if k is not None))
    doc = Doc("DeleteResult")
    for key, err in zip(keys, results, strict=True):
        if err is None:
            if not quiet:
                add(add(doc.root, "Deleted"), "Key", key)
        else:
            el = add(doc.root, "Error")
            add(el, "Key", key)
            add(el, "Code", err.code)
            add(el, "Message", err.message)
    return xml_response(doc)


def parse_copy_source(value: str) -> tuple[str, str]:
    """``/bucket/key`` or ``bucket/key``, URL-encoded, optionally ``?versionId=``."""
    raw, _, query = value.partition("?")
    if query and not query.startswith("versionId="):
        raise S3Error("InvalidArgument", "Invalid copy source.")
    if query and query != "versionId=null":
        raise S3Error("NotImplemented", "Copying a specific object version is not implemented.")
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
    return bucket, key


async def copy_object(ctx: Ctx) -> Response:
    bucket, key = ctx.need_bucket, ctx.need_key
    check_key(key)
    src_bucket, src_key = parse_copy_source(ctx.headers["x-amz-copy-source"])
    ctx.policy.authorize(ctx.auth.access_key, src_bucket, "read")
    directive = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    source = await ctx.backend.head_object(src_bucket, src_key)
    conditions.check(
        ctx.headers, source.etag, source.last_modified, prefix="x-amz-copy-source-if-", read=False
    )
    meta = meta_from_headers(ctx.headers) if directive == "REPLACE" else None
    if (src_bucket, src_key) == (bucket, key) and meta is None and "x-amz-storage-class" not in ctx.headers:
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing "
            "the object's metadata, storage class, website redirect location or encryption attributes.",
        )
    if meta is None and "x-amz-storage-class" in ctx.headers:
        meta = source.meta.copy(storage_class=meta_from_headers(ctx.headers).storage_class)
    cond = conditions.write_condition(ctx.headers)  # on the destination
    with conditions.deciding(cond):
        info = await ctx.backend.copy_object(src_bucket, src_key, bucket, key, meta, cond)
    doc = Doc("CopyObjectResult")
    add(doc.root, "LastModified", info.last_modified)
    add(doc.root, "ETag", f'"{info.etag}"')
    for alg, value in info.meta.checksums.items():
        add(doc.root, "Checksum" + alg.upper(), value)
    return xml_response(doc)
