"""Dialect-neutral parts of the wire emulators: store, request parsing, HTTP plumbing, error rendering.

A dialect module (``tests.emulators.oss``, ``tests.emulators.obs``) owns addressing, signatures, XML shapes
and header names; everything else lives here so two emulators do not grow two stores.

API
---
Errors
    ``EmulatorError(status, code, message, headers=None, **extra)``: raise anywhere to refuse a request.
    ``ErrorDialect(namespace, request_id_header, host_id)`` renders one as the store's error XML
    (``<Error><Code/><Message/>...extra...<RequestId/><HostId/></Error>``) via ``render(err, request_id)``.
    The store raises the codes S3, OSS and OBS share: NoSuchBucket, NoSuchKey, NoSuchUpload,
    BucketAlreadyExists, BucketNotEmpty, InvalidPart, InvalidPartOrder, EntityTooSmall.

Store (``Store(root)``; thread-safe; bodies on disk, index in memory)
    ``write_blob(chunks, hashers=None, expected_size=None) -> Blob``: stream a body into a temp file,
    computing md5 plus any extra ``hashers`` (name -> factory of objects with update/digest).
    Buckets: ``create_bucket``, ``delete_bucket``, ``bucket``, ``buckets``, ``require_bucket``.
    Objects: ``put_object(bucket, key, blob, headers, extra)``, ``get_object``, ``delete_object``,
    ``copy_object``, ``list_objects(bucket, prefix, delimiter, start_after, max_keys)``,
    ``read_range(record, start, end)`` (an iterator of chunks).
    Multipart: ``create_upload``, ``upload``, ``put_part``, ``list_parts``, ``complete_upload``,
    ``abort_upload``, ``list_uploads``. ETags are stored as lowercase hex (multipart ``<hex>-N``, the
    md5 of the parts' binary md5s); a dialect formats them on the wire.

HTTP
    ``serve(app, host, port) -> ThreadingHTTPServer``: ``app(Request) -> Response``; ``Request`` gives
    ``method``, ``path`` (still percent-encoded), ``query`` (decoded pairs, blank values kept),
    ``headers`` (case-insensitive), ``host``, and ``body()`` (an iterator over Content-Length or chunked
    bodies, a chunk at a time). ``Response(status, headers, body, length)`` streams ``body`` when it is an
    iterator. A request body left unread closes the connection rather than desynchronising it.

Helpers
    ``parse_range(value, size)``, ``check_conditions(headers, etag, last_modified)``, ``http_date``,
    ``iso8601``, ``parse_http_date``, ``element``/``to_xml``/``parse_xml``, ``new_request_id``.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

CHUNK = 256 * 1024
MAX_XML_BODY = 4 * 1024 * 1024


# -- errors --------------------------------------------------------------------------------------------
class EmulatorError(Exception):
    """A refused request: HTTP status, the store's error code and message, extra XML fields."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: str
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra


@dataclass(frozen=True)
class ErrorDialect:
    """How one store writes its error document: XML namespace (None for none) and request-id header."""

    namespace: str | None
    request_id_header: str
    host_id: str = "emulator.localtest"

    def render(self, err: EmulatorError, request_id: str) -> bytes:
        fields: list[tuple[str, str]] = [("Code", err.code), ("Message", err.message)]
        fields += list(err.extra.items())
        fields += [("RequestId", request_id), ("HostId", self.host_id)]
        return to_xml(element("Error", None, *[element(k, v) for k, v in fields]), self.namespace)


def new_request_id() -> str:
    return uuid.uuid4().hex[:24].upper()


# -- XML -----------------------------------------------------------------------------------------------
def element(tag: str, text: str | int | None = None, *children: ET.Element | None) -> ET.Element:
    """An element with text or children; ``None`` children are skipped so optional fields read inline."""
    node = ET.Element(tag)
    if text is not None:
        node.text = str(text)
    for child in children:
        if child is not None:
            node.append(child)
    return node


def to_xml(root: ET.Element, namespace: str | None = None) -> bytes:
    if namespace:
        root.set("xmlns", namespace)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def parse_xml(body: Iterable[bytes], malformed_code: str = "MalformedXML") -> ET.Element:
    """Parse a small request document; namespaces are dropped so dialects compare bare tags."""
    data = bytearray()
    for chunk in body:
        data += chunk
        if len(data) > MAX_XML_BODY:
            raise EmulatorError(400, malformed_code, "The XML you provided was too large.")
    try:
        root = ET.fromstring(bytes(data))
    except ET.ParseError as exc:
        raise EmulatorError(400, malformed_code, f"The XML you provided was not well-formed: {exc}") from exc
    for node in root.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    return root


# -- time ----------------------------------------------------------------------------------------------
def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def iso8601(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


# -- store ---------------------------------------------------------------------------------------------
class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


@dataclass
class Blob:
    """A body written to a temp file; ``digests`` holds md5 and the extra hashers' results."""

    path: Path
    size: int
    digests: dict[str, bytes]

    @property
    def md5_hex(self) -> str:
        return self.digests["md5"].hex()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class ObjectRecord:
    key: str
    size: int
    etag: str  # lowercase hex, multipart "<hex>-N"
    last_modified: float
    path: Path
    headers: dict[str, str] = field(default_factory=dict)  # stored content headers and user metadata
    extra: dict[str, Any] = field(default_factory=dict)  # dialect data (object type, crc, ...)


@dataclass
class PartRecord:
    number: int
    size: int
    etag: str
    last_modified: float
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class UploadRecord:
    bucket: str
    key: str
    upload_id: str
    initiated: float
    headers: dict[str, str]
    parts: dict[int, PartRecord] = field(default_factory=dict)


@dataclass
class BucketRecord:
    name: str
    created: float
    objects: dict[str, ObjectRecord] = field(default_factory=dict)
    uploads: dict[str, UploadRecord] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


class Store:
    """Buckets, objects and multipart uploads; bodies in files under ``root``, the index in memory."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._data = self.root / "data"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._data.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._buckets: dict[str, BucketRecord] = {}

    # bodies
    def write_blob(
        self,
        chunks: Iterable[bytes],
        hashers: dict[str, Callable[[], Hasher]] | None = None,
        expected_size: int | None = None,
    ) -> Blob:
        """Stream ``chunks`` to a temp file; removes it if the body fails or its size is not as declared."""
        path = self._tmp / uuid.uuid4().hex
        running: dict[str, Hasher] = {"md5": hashlib.md5()}
        for name, factory in (hashers or {}).items():
            running[name] = factory()
        size = 0
        try:
            with open(path, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                    for h in running.values():
                        h.update(chunk)
            if expected_size is not None and size != expected_size:
                raise EmulatorError(400, "IncompleteBody", "The body is shorter than its declared length.")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Blob(path, size, {name: h.digest() for name, h in running.items()})

    def _adopt(self, blob_path: Path) -> Path:
        final = self._data / uuid.uuid4().hex
        os.replace(blob_path, final)
        return final

    def read_range(self, record: ObjectRecord | PartRecord, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive; opened now, so a concurrent overwrite cannot change them."""
        f = open(record.path, "rb")  # noqa: SIM115 - closed by the generator
        return _file_chunks(f, start, end - start + 1)

    # buckets
    def create_bucket(self, name: str, **extra: Any) -> BucketRecord:
        with self._lock:
            if name in self._buckets:
                raise EmulatorError(409, "BucketAlreadyExists", "The requested bucket name is not available.")
            rec = BucketRecord(name, time.time(), extra=dict(extra))
            self._buckets[name] = rec
            return rec

    def require_bucket(self, name: str) -> BucketRecord:
        with self._lock:
            rec = self._buckets.get(name)
        if rec is None:
            raise EmulatorError(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=name)
        return rec

    def bucket(self, name: str) -> BucketRecord | None:
        with self._lock:
            return self._buckets.get(name)

    def buckets(self) -> list[BucketRecord]:
        with self._lock:
            return sorted(self._buckets.values(), key=lambda b: b.name)

    def delete_bucket(self, name: str, *, refuse_with_uploads: bool = True) -> None:
        with self._lock:
            rec = self.require_bucket(name)
            if rec.objects or (refuse_with_uploads and rec.uploads):
                raise EmulatorError(
                    409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", BucketName=name
                )
            del self._buckets[name]

    # objects
    def put_object(
        self, bucket: str, key: str, blob: Blob, headers: dict[str, str], extra: dict[str, Any] | None = None
    ) -> ObjectRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            record = ObjectRecord(
                key, blob.size, blob.md5_hex, time.time(), self._adopt(blob.path), dict(headers)
            )
            record.extra.update(extra or {})
            self._replace(b, record)
            return record

    def _replace(self, b: BucketRecord, record: ObjectRecord) -> None:
        old = b.objects.get(record.key)
        b.objects[record.key] = record
        if old is not None and old.path != record.path:
            old.path.unlink(missing_ok=True)  # open readers keep their handle

    def get_object(self, bucket: str, key: str) -> ObjectRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = b.objects.get(key)
        if rec is None:
            raise EmulatorError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return rec

    def delete_object(self, bucket: str, key: str) -> bool:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = b.objects.pop(key, None)
        if rec is not None:
            rec.path.unlink(missing_ok=True)
        return rec is not None

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        headers: dict[str, str] | None,
        extra: dict[str, Any] | None = None,
    ) -> ObjectRecord:
        """Copy the body on disk; ``headers`` None keeps the source's."""
        src = self.get_object(src_bucket, src_key)
        self.require_bucket(dst_bucket)
        tmp = self._tmp / uuid.uuid4().hex
        shutil.copyfile(src.path, tmp)
        with self._lock:
            b = self.require_bucket(dst_bucket)
            record = ObjectRecord(
                dst_key,
                src.size,
                src.etag,
                time.time(),
                self._adopt(tmp),
                dict(src.headers if headers is None else headers),
                dict(src.extra if extra is None else extra),
            )
            self._replace(b, record)
            return record

    def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> tuple[list[ObjectRecord | str], bool, str | None]:
        """A page of objects and common prefixes in UTF-8 order after ``start_after``.

        Returns (entries, is_truncated, last entry's key or prefix when truncated).
        """
        with self._lock:
            keys = sorted(self.require_bucket(bucket).objects.items(), key=lambda kv: _utf8(kv[0]))
        return _page(keys, prefix, delimiter, start_after, max_keys)

    # multipart
    def create_upload(self, bucket: str, key: str, headers: dict[str, str]) -> UploadRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = UploadRecord(bucket, key, uuid.uuid4().hex.upper(), time.time(), dict(headers))
            b.uploads[rec.upload_id] = rec
            return rec

    def upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        with self._lock:
            b = self.require_bucket(bucket)
            rec = b.uploads.get(upload_id)
        if rec is None or rec.key != key:
            raise EmulatorError(
                404,
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, "
                "or the upload may have been aborted or completed.",
                UploadId=upload_id,
            )
        return rec

    def put_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        blob: Blob,
        extra: dict[str, Any] | None = None,
    ) -> PartRecord:
        with self._lock:
            up = self.upload(bucket, key, upload_id)
            part = PartRecord(
                number, blob.size, blob.md5_hex, time.time(), self._adopt(blob.path), dict(extra or {})
            )
            old = up.parts.get(number)
            up.parts[number] = part
        if old is not None:
            old.path.unlink(missing_ok=True)
        return part

    def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> tuple[list[PartRecord], bool]:
        with self._lock:
            up = self.upload(bucket, key, upload_id)
            parts = sorted((p for n, p in up.parts.items() if n > marker), key=lambda p: p.number)
        return parts[:max_parts], len(parts) > max_parts

    def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        min_part_size: int,
        extra: dict[str, Any] | None = None,
    ) -> ObjectRecord:
        """Join the named parts (etags as lowercase hex) into the object, checking order, etags and sizes."""
        up = self.upload(bucket, key, upload_id)
        if not parts:
            raise EmulatorError(400, "MalformedXML", "The CompleteMultipartUpload document lists no parts.")
        chosen: list[PartRecord] = []
        last = 0
        for number, etag in parts:
            if number <= last:
                raise EmulatorError(
                    400,
                    "InvalidPartOrder",
                    "The list of parts was not in ascending order.",
                    UploadId=upload_id,
                )
            last = number
            part = up.parts.get(number)
            if part is None or part.etag != etag:
                raise EmulatorError(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found or the specified entity tag "
                    "might not have matched the part's entity tag.",
                    UploadId=upload_id,
                    PartNumber=str(number),
                    ETag=etag,
                )
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < min_part_size:
                raise EmulatorError(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                    PartNumber=str(part.number),
                    MinSizeAllowed=str(min_part_size),
                    ProposedSize=str(part.size),
                )
        tmp = self._tmp / uuid.uuid4().hex
        with open(tmp, "wb") as out:
            for part in chosen:
                with open(part.path, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
        joined = b"".join(bytes.fromhex(p.etag) for p in chosen)
        etag = f"{hashlib.md5(joined).hexdigest()}-{len(chosen)}"
        with self._lock:
            b = self.require_bucket(bucket)
            if b.uploads.pop(upload_id, None) is None:
                tmp.unlink(missing_ok=True)
                raise EmulatorError(
                    404, "NoSuchUpload", "The specified upload does not exist.", UploadId=upload_id
                )
            size = sum(p.size for p in chosen)
            record = ObjectRecord(
                key, size, etag, time.time(), self._adopt(tmp), dict(up.headers), dict(extra or {})
            )
            self._replace(b, record)
        for part in up.parts.values():
            part.path.unlink(missing_ok=True)
        return record

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        up = self.upload(bucket, key, upload_id)
        with self._lock:
            self.require_bucket(bucket).uploads.pop(upload_id, None)
        for part in up.parts.values():
            part.path.unlink(missing_ok=True)

    def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> tuple[list[UploadRecord | str], bool]:
        """Uploads ordered by (key, initiation); ``key_marker``/``upload_id_marker`` as S3 defines them."""
        with self._lock:
            ups = sorted(
                self.require_bucket(bucket).uploads.values(), key=lambda u: (_utf8(u.key), u.initiated)
            )
        # uploads of key_marker up to and including upload_id_marker, in listing order
        same_key = [u.upload_id for u in ups if u.key == key_marker]
        cut = same_key.index(upload_id_marker) + 1 if upload_id_marker in same_key else len(same_key)
        passed = set(same_key[:cut])
        out: list[UploadRecord | str] = []
        seen_prefixes: set[str] = set()
        truncated = False
        for up in ups:
            if not up.key.startswith(prefix):
                continue
            if key_marker:
                kb, mb = _utf8(up.key), _utf8(key_marker)
                if kb < mb or (kb == mb and (not upload_id_marker or up.upload_id in passed)):
                    continue
            roll = _rollup(up.key, prefix, delimiter)
            if roll is not None and roll in seen_prefixes:
                continue
            if len(out) >= max_uploads:
                truncated = True
                break
            if roll is not None:
                seen_prefixes.add(roll)
                out.append(roll)
            else:
                out.append(up)
        return out, truncated


def _rollup(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    pos = key.find(delimiter, len(prefix))
    return None if pos < 0 else key[: pos + len(delimiter)]


def _page(
    items: list[tuple[str, ObjectRecord]], prefix: str, delimiter: str, start_after: str, max_keys: int
) -> tuple[list[ObjectRecord | str], bool, str | None]:
    out: list[ObjectRecord | str] = []
    after = _utf8(start_after)
    last_name: str | None = None
    for key, rec in items:
        if not key.startswith(prefix) or (start_after and _utf8(key) <= after):
            continue
        roll = _rollup(key, prefix, delimiter)
        if roll is not None:
            if roll == last_name or (start_after and _utf8(roll) <= after):
                continue
        if len(out) >= max_keys:
            return out, True, last_name
        name = roll if roll is not None else key
        out.append(roll if roll is not None else rec)
        last_name = name
    return out, False, None


def _file_chunks(f: Any, start: int, length: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


# -- request helpers -----------------------------------------------------------------------------------
class RangeNotSatisfiable(Exception):
    pass


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive span of a single ``bytes=`` range; None when absent or not a single valid range.

    Raises RangeNotSatisfiable for a well-formed range outside the object.
    """
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first, sep, last = value[6:].strip().partition("-")
    if not sep or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()):
        return None
    if last and not last.isdigit():
        return None
    if not first:
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable()
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else int(last)
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable()
    return start, min(end, size - 1)


def _precondition(condition: str) -> EmulatorError:
    message = "At least one of the pre-conditions you specified did not hold."
    return EmulatorError(412, "PreconditionFailed", message, Condition=condition)


def check_conditions(headers: Any, etag: str, last_modified: float, *, is_read: bool = True) -> bool:
    """Evaluate If-Match/If-None-Match/If-(Un)Modified-Since as RFC 7232 orders them.

    ``etag`` is the bare lowercase value. Returns True when the answer is 304 Not Modified; raises
    EmulatorError 412 PreconditionFailed when a precondition fails.
    """

    def matches(value: str) -> bool:
        tags = [t.strip().strip('"').lower() for t in value.split(",")]
        return "*" in tags or etag.lower() in tags

    lm = int(last_modified)
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not matches(if_match):
            raise _precondition("If-Match")
    else:
        since = parse_http_date(headers.get("If-Unmodified-Since"))
        if since is not None and lm > since:
            raise _precondition("If-Unmodified-Since")
    if_none = headers.get("If-None-Match")
    if if_none is not None:
        if matches(if_none):
            if is_read:
                return True
            raise _precondition("If-None-Match")
    elif is_read:
        modified = parse_http_date(headers.get("If-Modified-Since"))
        if modified is not None and lm <= modified:
            return True
    return False


# -- HTTP plumbing -------------------------------------------------------------------------------------
class Request:
    """One parsed request. ``body()`` may be iterated once; unread bytes close the connection."""

    def __init__(self, handler: BaseHTTPRequestHandler):
        self._handler = handler
        self.method = handler.command
        self.target = handler.path
        raw_path, _, raw_query = handler.path.partition("?")
        self.path = raw_path
        self.raw_query = raw_query
        self.query: list[tuple[str, str]] = parse_qsl(raw_query, keep_blank_values=True)
        self.headers = handler.headers
        self.host = handler.headers.get("Host", "")
        self._consumed = False
        self._started = False
        te = (handler.headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        cl = handler.headers.get("Content-Length")
        self.content_length: int | None = int(cl) if cl is not None and cl.strip().isdigit() else None
        if not self.chunked and not self.content_length:
            self._consumed = True

    @property
    def decoded_path(self) -> str:
        return unquote(self.path)

    def param(self, name: str) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return None

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.query)

    @property
    def body_consumed(self) -> bool:
        return self._consumed

    def body(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("request body iterated twice")
        self._started = True
        if self._consumed:
            return iter(())
        return self._chunked() if self.chunked else self._sized(self.content_length or 0)

    def _sized(self, length: int) -> Iterator[bytes]:
        rfile = self._handler.rfile
        remaining = length
        while remaining > 0:
            chunk = rfile.read(min(CHUNK, remaining))
            if not chunk:
                raise EmulatorError(400, "IncompleteBody", "The body ended before Content-Length.")
            remaining -= len(chunk)
            yield chunk
        self._consumed = True

    def _chunked(self) -> Iterator[bytes]:
        rfile = self._handler.rfile
        while True:
            line = rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise EmulatorError(400, "IncompleteBody", "Malformed chunked body.")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise EmulatorError(400, "IncompleteBody", "Malformed chunk size.") from exc
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._consumed = True
                return
            remaining = size
            while remaining > 0:
                piece = rfile.read(min(CHUNK, remaining))
                if not piece:
                    raise EmulatorError(400, "IncompleteBody", "The chunked body ended early.")
                remaining -= len(piece)
                yield piece
            rfile.readline(16)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""
    length: int | None = None  # for an iterable body; None for bytes

    def header(self, name: str, value: str) -> Response:
        self.headers.append((name, value))
        return self


App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    app: App
    server_version = "emulator"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("EMULATOR_LOG"):
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        request = Request(self)
        response = self.app(request)
        if not request.body_consumed:
            self.close_connection = True
        self.send_response(response.status)
        sent_length = False
        for name, value in response.headers:
            if name.lower() == "content-length":
                sent_length = True
            self.send_header(name, value)
        body = response.body
        if isinstance(body, bytes):
            if not sent_length:
                self.send_header("Content-Length", str(len(body)))
        elif response.length is not None and not sent_length:
            self.send_header("Content-Length", str(response.length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            if not isinstance(body, bytes):
                _close(body)
            return
        if isinstance(body, bytes):
            self.wfile.write(body)
            return
        try:
            for chunk in body:
                self.wfile.write(chunk)
        finally:
            _close(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _dispatch


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def serve(app: App, host: str, port: int) -> ThreadingHTTPServer:
    """A threading server calling ``app`` per request; the caller runs ``serve_forever``."""
    handler = type("Handler", (_Handler,), {"app": staticmethod(app)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def run_cli(
    prog: str,
    description: str,
    default_domain: str,
    make_app: Callable[[argparse.Namespace, Store], App],
    argv: list[str] | None = None,
    *,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """The command line every emulator shares: parse the options, serve until SIGTERM, clean up."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--domain", default=default_domain, help="virtual-host suffix: <bucket>.<domain>")
    parser.add_argument("--security-token", default=None)
    parser.add_argument("--data-dir", default=None)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    tmp = (
        None if args.data_dir else tempfile.TemporaryDirectory(prefix=f"{prog.rsplit('.', 1)[-1]}-emulator-")
    )
    root = Path(args.data_dir) if args.data_dir else Path(tmp.name)  # type: ignore[union-attr]
    server = serve(make_app(args, Store(root)), args.host, args.port)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if tmp is not None:
            tmp.cleanup()
    return 0


def _terminate(*_: object) -> None:
    raise KeyboardInterrupt
