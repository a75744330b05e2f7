"""CompleteMultipartUpload answers the s3 backend must read right, from a scripted store on loopback.

- Ceph RGW 16.2 answers a successful complete with ``<ETag></ETag>``: the upload did complete, and the
  object's ETag is the one a HEAD reads (the contract suite meets this against a real RGW too).
- S3 may fail a complete after sending its 200 header: the body is then an ``<Error>`` document, and
  the backend must raise that error rather than report success.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backends import errors as be
from backends.base import CompletedPart
from backends.s3.backend import S3Backend
from backends.s3.settings import Settings

pytestmark = pytest.mark.anyio

RGW_EMPTY_ETAG = (
    b'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult '
    b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://127.0.0.1/b/k</Location>'
    b"<Bucket>bkt</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>"
)
ERROR_IN_200 = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)
STORED_ETAG = "0123456789abcdef0123456789abcdef-2"


class Store(BaseHTTPRequestHandler):
    """Answers POST (complete) with ``complete_body`` and HEAD with the stored object."""

    complete_body = RGW_EMPTY_ETAG
    seen: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(("POST", self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.complete_body)))
        self.end_headers()
        self.wfile.write(self.complete_body)

    def do_HEAD(self) -> None:
        self.seen.append(("HEAD", self.path, b""))
        self.send_response(200)
        self.send_header("ETag", f'"{STORED_ETAG}"')
        self.send_header("Content-Length", "10485760")
        self.send_header("Last-Modified", "Wed, 02 Dec 2026 07:02:16 GMT")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def store() -> Iterator[str]:
    Store.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def backend(url: str) -> S3Backend:
    return S3Backend(
        Settings(type="s3", endpoint=url, access_key="ak", secret_key="sk", read_timeout=5), name="s3-unit"
    )


PARTS = [CompletedPart(1, '"aa"'), CompletedPart(2, "bb")]


async def test_empty_etag_in_the_answer_reads_the_stored_one(store: str) -> None:
    Store.complete_body = RGW_EMPTY_ETAG
    s3 = backend(store)
    try:
        info = await s3.complete_multipart_upload("bkt", "k", "up-1", PARTS)
    finally:
        await s3.close()
    assert (info.etag, info.size) == (STORED_ETAG, 10 * 1024 * 1024)
    post = Store.seen[0]
    assert post[0] == "POST" and post[1] == "/bkt/k?uploadId=up-1"
    assert post[2].count(b"<Part>") == 2
    assert b'<ETag>"aa"</ETag>' in post[2] and b'<ETag>"bb"</ETag>' in post[2]
    assert [m for m, _, _ in Store.seen] == ["POST", "HEAD"]


async def test_error_document_in_a_200_is_that_error(store: str) -> None:
    Store.complete_body = ERROR_IN_200
    s3 = backend(store)
    try:
        with pytest.raises(be.BackendUnavailable) as caught:
            await s3.complete_multipart_upload("bkt", "k", "up-1", PARTS)
    finally:
        await s3.close()
    assert "InternalError" in str(caught.value)
    assert [m for m, _, _ in Store.seen] == ["POST"]
