"""The server side of ``http.response.zerocopysend`` (gateway.zerocopy) under the real uvicorn and
``S3Protocol``: a span of a file reaches the client exactly, through sendfile or, with no descriptor
left to duplicate, through ordinary writes; a file shorter than its span cuts the connection."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import zerocopy
from tests.helpers.inthread import serving

DATA = bytes(range(256)) * (3 * 4096 + 7)  # 3 MiB and a bit


class SpanApp:
    """Answers ``/<offset>/<count>`` with that span of ``path`` (``count`` may run past the end)."""

    def __init__(self, path: Path):
        self.path = path
        self.offered: list[bool] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        offset, count = (int(x) for x in scope["path"].strip("/").split("/"))
        self.offered.append(zerocopy.offered(scope))
        headers = [(b"content-length", str(count).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        fd = os.open(self.path, os.O_RDONLY)  # a descriptor as an int: the extension takes either form
        try:
            await send(
                {"type": zerocopy.EXTENSION, "file": fd, "offset": offset, "count": count, "more_body": False}
            )
        finally:
            os.close(fd)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, SpanApp]]:
    path = tmp_path / "object"
    path.write_bytes(DATA)
    app = SpanApp(path)
    with serving(app) as url:
        yield url, app


@pytest.mark.parametrize("offset,count", [(0, len(DATA)), (1, 2 * 1024 * 1024), (len(DATA) - 3, 3), (5, 0)])
def test_a_span_arrives_exactly(served: tuple[str, SpanApp], offset: int, count: int) -> None:
    url, app = served
    got = httpx.get(f"{url}/{offset}/{count}", timeout=30)
    assert got.status_code == 200
    assert got.content == DATA[offset : offset + count]
    assert app.offered == [True]
    again = httpx.get(f"{url}/0/10", timeout=30)  # the connection's state is whole for what follows
    assert again.content == DATA[:10]


def test_without_a_descriptor_to_spare_the_span_goes_through_writes(
    served: tuple[str, SpanApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = served

    def no_more(fd: int) -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(os, "dup", no_more)
    got = httpx.get(f"{url}/7/{len(DATA) - 7}", timeout=30)
    assert got.content == DATA[7:]


def test_a_file_shorter_than_its_span_cuts_the_connection(served: tuple[str, SpanApp]) -> None:
    url, _ = served
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET /0/{len(DATA) + 100} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"200" in head.split(b"\r\n")[0]
    assert body == DATA  # every byte the file has, then the connection closed: never a whole answer
