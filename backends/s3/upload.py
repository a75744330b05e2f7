"""The blocking upload routines of the S3 backend; they run on the BlockingPool, one call per upload.

Each takes the minio client and a ``Source`` of the client's body. Memory: a streamed body holds one
chunk of the client's stream; only a body of unknown size is buffered, one part at a time (its
Content-Length must be known before it is sent), and an unknown-size single part is spooled to a
temporary file past ``part_size``. A multipart upload that fails for any reason is aborted.
"""

from __future__ import annotations

import math
import tempfile
from typing import Any

from minio.datatypes import Part
from minio.error import S3Error
from minio.helpers import md5sum_hash
from minio.xml import Element, SubElement, getbytes

from backends import errors as be
from backends.base import MAX_PART_NUMBER, WriteCondition
from backends.bridge import DEFAULT_CHUNK, SyncReader, read_up_to
from backends.s3.client import SizedStream, SpooledSource, Streamed, StreamingMinio
from backends.s3.integrity import TrailerStream, forwarded_headers
from backends.s3.wire import parse_error, text_of
from backends.wire import status as wire_status
from backends.wire.etag import strip_etag

#: What a store that predates trailing checksums (Ceph RGW before 18) answers a TrailerStream body: the
#: write is then not one it can verify, so it is refused as not implemented there, not a store fault.
TRAILER_REFUSALS = frozenset({"XAmzContentSHA256Mismatch", "NotImplemented"})


def send(
    client: StreamingMinio,
    bucket: str,
    key: str,
    stream: Streamed,
    headers: dict[str, str],
    query: dict[str, str] | None = None,
) -> tuple[str, str | None]:
    """PUT a streamed body (object or part): its ETag and the version id the store gave an object (None
    for a part, or in a bucket never versioned); an empty final body is checked first."""
    if isinstance(stream, SizedStream) and stream.length == 0 and stream.final:
        stream.check_end()
    try:
        resp: Any = client._execute("PUT", bucket, key, body=stream, headers=headers, query_params=query)  # type: ignore[arg-type]
    except S3Error as exc:
        if isinstance(stream, TrailerStream) and exc.code in TRAILER_REFUSALS:
            raise be.NotImplementedByBackend(
                "The store does not take a trailing checksum on a write that locks: send Content-MD5 or an "
                "x-amz-checksum-* header with the request.",
                detail=f"store answered {exc.code}",
            ) from None
        raise
    return strip_etag(resp.headers.get("etag")), resp.headers.get("x-amz-version-id")


def checked(stream: SizedStream, declared: dict[str, str] | None) -> tuple[Streamed, dict[str, str]]:
    """The body and headers of a write the store must verify (a locked one, see s3 integrity); ``declared``
    None: no check wanted, the body goes as it is. The client's up-front values when it declared any,
    else a trailing checksum computed as the bytes flow."""
    if declared is None:
        return stream, {}
    if declared:
        return stream, forwarded_headers(declared)
    return TrailerStream(stream), {}


def condition_headers(cond: WriteCondition) -> dict[str, str]:
    """The S3 headers of a write condition, for the store to decide with the write."""
    headers: dict[str, str] = {}
    if cond.if_none_match_star:
        headers["If-None-Match"] = "*"
    if cond.if_match is not None:
        headers["If-Match"] = cond.if_match if cond.if_match == "*" else f'"{cond.if_match}"'
    return headers


def complete_body(parts: list[tuple[int, str]]) -> bytes:
    """The CompleteMultipartUpload document for (part number, ETag) pairs."""
    element = Element("CompleteMultipartUpload")
    for number, etag in parts:
        tag = SubElement(element, "Part")
        SubElement(tag, "PartNumber", str(number))
        SubElement(tag, "ETag", f'"{strip_etag(etag)}"')
    return getbytes(element)


def complete_headers(body: bytes, cond: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or "", **cond}


def raise_error_body(data: bytes, backend: str | None = None) -> None:
    """Raise the <Error> document a 200 answer may carry (copies and CompleteMultipartUpload)."""
    code, message = parse_error(data)
    if code is not None:
        raise wire_status.classify(code, None)(detail=f"{code}: {message}", backend=backend)


def create_upload(client: StreamingMinio, bucket: str, key: str, headers: dict[str, str]) -> str:
    """CreateMultipartUpload without minio's forced Content-Type (S3 itself defaults it)."""
    resp = client._execute("POST", bucket, key, headers=dict(headers), query_params={"uploads": ""})  # type: ignore[arg-type]
    upload_id = text_of(resp.data, "UploadId")
    if not upload_id:
        raise be.BackendUnavailable(detail="CreateMultipartUpload answered without an UploadId")
    return upload_id


def abort_quietly(client: StreamingMinio, bucket: str, key: str, upload_id: str) -> None:
    try:
        client._abort_multipart_upload(bucket, key, upload_id)
    except Exception:  # noqa: S110 - the upload failed already; its error is the one to report
        pass


def put_multipart(
    client: StreamingMinio,
    bucket: str,
    key: str,
    reader: SyncReader,
    size: int | None,
    headers: dict[str, str],
    part_size: int,
    cond: dict[str, str] | None = None,
    locking: bool = False,
) -> tuple[str, int, str | None]:
    """The store's multipart for a body over the threshold (streamed parts) or of unknown size (buffered);
    ``cond`` (condition_headers) goes on the request that makes the object visible. A ``locking`` write
    sends every request with a body with an integrity check the store verifies (Content-MD5 of a
    buffered body, a trailing checksum of a streamed part), as S3 wants of locked uploads. Returns the
    ETag, the size and the version id the store gave the object."""
    cond = cond or {}
    if size is not None:
        part_size = max(part_size, math.ceil(size / MAX_PART_NUMBER))
    first = b""
    if size is None:
        first = read_up_to(reader, part_size)
        if reader.drain_to_eof():  # it all fits one request: a plain PutObject
            extra = {**cond, **_md5(first, locking)}
            resp = client._put_object(bucket, key, first, {**headers, **extra})  # type: ignore[arg-type]
            return strip_etag(resp.etag), len(first), resp.version_id
    upload_id = create_upload(client, bucket, key, headers)
    try:
        parts: list[Part] = []
        total = 0
        while True:
            number = len(parts) + 1
            if size is not None:
                length = min(part_size, size - total)
                final = total + length == size
                query = {"partNumber": str(number), "uploadId": upload_id}
                stream, sums = checked(SizedStream(reader, length, final=final), {} if locking else None)
                etag = send(client, bucket, key, stream, sums, query)[0]
            else:
                data, first = (first, b"") if first else (read_up_to(reader, part_size), b"")
                length = len(data)
                final = reader.drain_to_eof()
                md5 = _md5(data, locking) or None
                etag = client._upload_part(bucket, key, data, md5, upload_id, number)  # type: ignore[arg-type]
            parts.append(Part(number, etag))
            total += length
            if final:
                break
        body = complete_body([(p.part_number, p.etag) for p in parts])
        done: Any = client._execute(
            "POST",
            bucket,
            key,
            body=body,
            headers=complete_headers(body, cond),  # type: ignore[arg-type]
            query_params={"uploadId": upload_id},
        )
        raise_error_body(done.data)
        etag = strip_etag(text_of(done.data, "ETag"))
        if not etag:
            raise be.BackendUnavailable(detail="CompleteMultipartUpload answered without an ETag")
        return etag, total, done.headers.get("x-amz-version-id")
    except BaseException:
        abort_quietly(client, bucket, key, upload_id)
        raise


def _md5(data: bytes, wanted: bool) -> dict[str, str]:
    """Content-MD5 of a buffered body when the store must verify it (minio sends none over http)."""
    return {"Content-MD5": md5sum_hash(data) or ""} if wanted else {}


def send_unsized_part(
    client: StreamingMinio,
    bucket: str,
    key: str,
    reader: SyncReader,
    query: dict[str, str],
    spool_max: int,
    headers: dict[str, str],
) -> tuple[str, int]:
    """A part of unknown length: spool it (memory up to ``spool_max``, then disk) to learn its length."""
    with tempfile.SpooledTemporaryFile(max_size=spool_max) as spool:
        while chunk := reader.read(DEFAULT_CHUNK):
            spool.write(chunk)
        length = spool.tell()
        spool.seek(0)
        stream = SizedStream(SpooledSource(spool), length, final=True)
        return send(client, bucket, key, stream, headers, query)[0], length
