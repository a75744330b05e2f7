"""The request body as ``S3Protocol`` hands it to the app (gateway.bodyreceive), under the real uvicorn:
every byte in order whatever the framing, ``100 Continue`` only once the app reads, pipelined requests
each with their own body, a client gone mid-body seen as a disconnect."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers.inthread import serving

BODY = bytes(range(251)) * 20000  # ~5 MiB, a length no read size divides


class Digest:
    """Answers each request with the SHA-256 and length of the body it received."""

    def __init__(self) -> None:
        self.ends: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        sha, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.ends.append("disconnect")
                return
            assert isinstance(message["body"], bytes)
            sha.update(message["body"])
            size += len(message["body"])
            if not message.get("more_body", False):
                break
        self.ends.append("complete")
        out = f"{sha.hexdigest()} {size}".encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(out))]}
        )
        await send({"type": "http.response.body", "body": out})


@pytest.fixture
def served() -> Iterator[tuple[str, Digest]]:
    app = Digest()
    with serving(app) as url:
        yield url, app


def _expected(body: bytes) -> str:
    return f"{hashlib.sha256(body).hexdigest()} {len(body)}"


def _read_until(sock: socket.socket, wanted: str) -> bytes:
    """What the server sends until ``wanted`` appears (the connection must stay open till then)."""
    answer = b""
    while wanted.encode() not in answer:
        chunk = sock.recv(65536)
        assert chunk, answer
        answer += chunk
    return answer


def test_bodies_arrive_whole_and_in_order(served: tuple[str, Digest]) -> None:
    url, _ = served
    assert httpx.put(url + "/a", content=BODY, timeout=30).text == _expected(BODY)
    chunked = httpx.put(
        url + "/b", content=iter([BODY[:1000], BODY[1000:3_000_000], BODY[3_000_000:]]), timeout=30
    )
    assert chunked.text == _expected(BODY)
    assert httpx.put(url + "/c", content=b"", timeout=30).text == _expected(b"")


def test_100_continue_then_the_body(served: tuple[str, Digest]) -> None:
    url, _ = served
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(BODY)
        _read_until(sock, _expected(BODY))


def test_pipelined_requests_keep_their_own_bodies(served: tuple[str, Digest]) -> None:
    url, _ = served
    host, port = url.removeprefix("http://").split(":")
    first, second = BODY[:300_000], BODY[300_000:1_000_000]
    wire = b"".join(
        b"PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b) for b in (first, second)
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(wire)
        answer = _read_until(sock, _expected(second))
    assert answer.index(_expected(first).encode()) < answer.index(_expected(second).encode())


def test_a_client_gone_mid_body_is_a_disconnect(served: tuple[str, Digest]) -> None:
    url, app = served
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY[:100_000])
    deadline = time.monotonic() + 10
    while not app.ends and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.ends == ["disconnect"]
    assert httpx.put(url + "/after", content=b"x", timeout=30).text == _expected(b"x")
