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

import email.utils
import os
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
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

#: How much of a refused request's body is read (and dropped) so the client gets the answer.
DRAIN_LIMIT = 16 * 1024 * 1024


def _drain(request: Request) -> None:
    total = 0
    for chunk in request.body():
        total += len(chunk)
        if total > DRAIN_LIMIT:
            return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Headers and body leave in separate writes; with Nagle on, the body waits for the client's
    #: delayed ACK (~40 ms a response).
    disable_nagle_algorithm = True
    app: App
    server_version = "emulator"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("EMULATOR_LOG"):
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        request = Request(self)
        response = self.app(request)
        if not request.body_consumed and "100-continue" not in (request.headers.get("expect") or "").lower():
            _drain(request)  # the client is sending it anyway: read it so it sees the answer, not a reset
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
