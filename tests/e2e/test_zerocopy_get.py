"""GETs of objects larger than one read, which the gateway sends with ``sendfile`` on plain HTTP
(``gateway.zerocopy``) and streams through TLS: the same bytes either way, whole or ranged, alone or
many at once, and a client that goes away mid-body costs nobody else a byte."""

from __future__ import annotations

import hashlib
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers.clients import make_client

SIZE = 6 * 1024 * 1024 + 12345


def _data(seed: int, size: int = SIZE) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def big(s3, bucket: str) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    data = _data(1)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"}), data


def test_whole_and_ranged_gets_bring_the_stored_bytes(big: tuple[str, bytes]) -> None:
    url, data = big
    got = httpx.get(url, timeout=60)
    assert got.status_code == 200
    assert got.headers["content-length"] == str(SIZE)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    for start, end in [(0, 0), (1, 3 * 1024 * 1024), (SIZE - 5, SIZE - 1), (1024 * 1024, SIZE - 1)]:
        part = httpx.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=60)
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
        assert part.content == data[start : end + 1]


def test_many_at_once_each_get_their_own_bytes(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    objects = {f"k{i}": _data(10 + i, 3 * 1024 * 1024 + i) for i in range(4)}
    for key, data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    urls = {k: s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": k}) for k in objects}

    def fetch(key: str) -> tuple[str, bytes]:
        return key, httpx.get(urls[key], timeout=60).content

    with ThreadPoolExecutor(8) as pool:
        for key, body in pool.map(fetch, [k for k in objects for _ in range(3)]):
            assert body == objects[key], key


def test_clients_that_leave_mid_body_leave_the_others_whole(big: tuple[str, bytes]) -> None:
    """Connections cut after the head while other GETs run: each complete GET is the object's bytes
    (a socket closed under a send never receives another's), and the gateway serves on."""
    url, data = big
    parts = urlsplit(url)
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()

    def leave() -> None:
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(request)
            sock.recv(65536)  # the head and a little of the body, then gone
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    def whole() -> bool:
        return httpx.get(url, timeout=60).content == data

    with ThreadPoolExecutor(8) as pool:
        left = [pool.submit(leave) for _ in range(12)]
        complete = [pool.submit(whole) for _ in range(6)]
        for f in left:
            f.result()
        assert all(f.result() for f in complete)
    assert httpx.get(url, timeout=60).content == data


def test_a_get_keeps_the_version_it_opened_while_the_key_is_overwritten(
    s3, bucket: str, big: tuple[str, bytes]
) -> None:  # type: ignore[no-untyped-def]
    url, data = big
    with httpx.stream("GET", url, timeout=60) as response:
        stream = response.iter_raw()
        first = next(stream)
        s3.put_object(Bucket=bucket, Key="big", Body=_data(2))
        body = first + b"".join(stream)
    assert body == data
    assert httpx.get(url, timeout=60).content == _data(2)


def test_over_tls_the_same_bytes_are_streamed(tls) -> None:  # type: ignore[no-untyped-def]
    server, ca = tls
    client = make_client(server.url, verify=str(ca))
    bucket = f"zc-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    data = _data(3)
    client.put_object(Bucket=bucket, Key="big", Body=data)
    got = client.get_object(Bucket=bucket, Key="big")["Body"].read()
    ranged = client.get_object(Bucket=bucket, Key="big", Range="bytes=100-2000000")["Body"].read()
    assert got == data
    assert ranged == data[100:2000001]
