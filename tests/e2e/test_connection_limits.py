"""The connection layer of the real process, driven over raw sockets (issue 16, faults 4 and 6): a
request the HTTP parser refuses gets an S3 XML error; idle, slow-header and slow-body clients are cut
off after the configured timeouts (a dropped upload leaves no object); connections and requests past
their limits get 503 SlowDown with Retry-After; memory comes back after a burst of uploads.

The gateway runs with short limits (``server:`` in its configuration) so the tests take seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest
import yaml

from tests.helpers.procs import ServerProcess, gateway_server
from tests.helpers.rawhttp import (
    Answer,
    client_for,
    closed_within,
    connect,
    head_block,
    read_response,
    rss_kib,
    sign,
)

PAIR = ("limits-ak", "limits-sk-0123456789abcdef")
HEADER_TIMEOUT = 1.0
BODY_IDLE = 1.0
MAX_CONNECTIONS = 40
MAX_IN_FLIGHT = 4


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("limits")
    config = {
        "server": {
            "header_timeout": HEADER_TIMEOUT,
            "body_idle_timeout": BODY_IDLE,
            "body_min_rate": 4096,
            "max_connections": MAX_CONNECTIONS,
            "max_in_flight": MAX_IN_FLIGHT,
        },
        "credentials": [{"access_key": PAIR[0], "secret_key": PAIR[1]}],
        "backends": {"local": {"type": "fs", "root": str(base / "data"), "fsync": False}},
    }
    (base / "gateway.yaml").write_text(yaml.safe_dump(config))
    server = gateway_server(config=base / "gateway.yaml", log_path=base / "gateway.log").start()
    s3(server).create_bucket(Bucket="lim")
    yield server
    server.stop()
    assert "Traceback" not in server.log_text()


def s3(server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(server, PAIR)


def exchange(server: ServerProcess, raw: bytes) -> Answer:
    with connect(server.port) as sock:
        sock.sendall(raw)
        return read_response(sock)


def assert_no_object(server: ServerProcess, key: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3(server).head_object(Bucket="lim", Key=key)
    assert err.value.response["Error"]["Code"] == "404"


# -- fault 6: what the HTTP parser refuses is answered in S3's words ------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PUT /lim/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"PUT /lim/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    ],
)
def test_unparseable_request_gets_s3_bad_request(gateway: ServerProcess, raw: bytes) -> None:
    answer = exchange(gateway, raw)
    assert answer.status == 400, answer
    assert answer.error_code() == "BadRequest", answer.body
    assert answer.headers["content-type"] == "application/xml"
    assert answer.headers["x-amz-request-id"]


# -- fault 4: idle and slow clients -------------------------------------------------------------------
def test_connection_that_sends_nothing_is_closed(gateway: ServerProcess) -> None:
    with connect(gateway.port) as sock:
        closed = closed_within(sock, HEADER_TIMEOUT + 3)
    assert closed is not None, "an idle connection stayed open"
    assert closed >= HEADER_TIMEOUT * 0.8


def test_slow_header_gets_request_timeout(gateway: ServerProcess) -> None:
    head = head_block("GET", "/lim", {"Host": "x", "X-Slow": "y" * 64})
    with connect(gateway.port) as sock:
        started = time.monotonic()
        answer: Answer | None = None
        for byte in head:  # one byte every 0.2 s: the head never completes within the timeout
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            if time.monotonic() - started > HEADER_TIMEOUT + 3:
                break
            time.sleep(0.2)
        answer = read_response(sock)
    assert answer.status == 400 and answer.error_code() == "RequestTimeout", answer
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


@pytest.mark.parametrize("trickle", [False, True])
def test_slow_body_is_dropped_and_stores_nothing(gateway: ServerProcess, trickle: bool) -> None:
    """Silence mid-body, or a body trickling under body_min_rate, drops the upload: no object."""
    key = f"slow-{'trickle' if trickle else 'idle'}"
    target = f"/lim/{key}"
    headers = sign(gateway.url, "PUT", target, PAIR, {"Content-Length": str(1 << 20)})
    with connect(gateway.port) as sock:
        sock.sendall(head_block("PUT", target, headers) + b"x" * 70000)
        started = time.monotonic()
        closed = None
        while closed is None and time.monotonic() - started < BODY_IDLE * 6:
            if trickle:
                try:
                    sock.sendall(b"x" * 256)  # 1 KiB/s, under the 4 KiB/s minimum
                except OSError:
                    closed = time.monotonic() - started
                    break
            closed = closed_within(sock, 0.25)
            if closed is not None:
                closed = time.monotonic() - started
    assert closed is not None, "a slow upload was never dropped"
    assert_no_object(gateway, key)


def test_healthy_slow_upload_is_not_dropped(gateway: ServerProcess) -> None:
    """A body arriving steadily above the minimum rate, with pauses shorter than the idle timeout, lands."""
    target = "/lim/steady"
    size = 64 * 1024
    headers = sign(gateway.url, "PUT", target, PAIR, {"Content-Length": str(size)})
    with connect(gateway.port) as sock:
        sock.sendall(head_block("PUT", target, headers))
        for _ in range(8):
            sock.sendall(b"s" * (size // 8))
            time.sleep(BODY_IDLE * 0.4)
        answer = read_response(sock)
    assert answer.status == 200, answer
    assert s3(gateway).head_object(Bucket="lim", Key="steady")["ContentLength"] == size


# -- fault 4: limits on connections and requests ------------------------------------------------------
def test_connections_past_the_limit_get_slow_down(gateway: ServerProcess) -> None:
    held: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(connect(gateway.port))
        time.sleep(0.2)
        with connect(gateway.port) as extra:
            answer = read_response(extra)  # answered at once, before it sends anything
        assert answer.status == 503 and answer.error_code() == "SlowDown", answer
        assert answer.headers["retry-after"] == "1"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    s3(gateway).head_bucket(Bucket="lim")  # the limit frees as connections close


def test_requests_past_max_in_flight_get_slow_down(gateway: ServerProcess) -> None:
    """MAX_IN_FLIGHT uploads held open mid-body; one more request gets 503 SlowDown, health still 200."""
    held: list[socket.socket] = []
    try:
        for n in range(MAX_IN_FLIGHT):
            target = f"/lim/held-{n}"
            headers = sign(gateway.url, "PUT", target, PAIR, {"Content-Length": "100000"})
            sock = connect(gateway.port)
            sock.sendall(head_block("PUT", target, headers) + b"h" * 5000)
            held.append(sock)
        time.sleep(0.3)
        answer = exchange(gateway, head_block("GET", "/lim", sign(gateway.url, "GET", "/lim", PAIR)))
        assert answer.status == 503 and answer.error_code() == "SlowDown", answer
        assert answer.headers["retry-after"] == "1"
        live = exchange(gateway, head_block("GET", "/_s3bridge/health/live", {"Host": "x"}))
        assert live.status == 200
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    s3(gateway).head_bucket(Bucket="lim")


# -- memory after a burst ---------------------------------------------------------------------------
def chunked_put(server: ServerProcess, target: str, pieces: int, piece: int = 256 * 1024) -> Answer:
    """A PUT of unknown size (HTTP chunked framing, UNSIGNED-PAYLOAD), ``pieces`` chunks, a short pause
    between chunks so many such uploads overlap."""
    headers = sign(server.url, "PUT", target, PAIR, {"Transfer-Encoding": "chunked"})
    with connect(server.port, timeout=60) as sock:
        sock.sendall(head_block("PUT", target, headers))
        for _ in range(pieces):
            sock.sendall(f"{piece:x}\r\n".encode() + b"m" * piece + b"\r\n")
            time.sleep(0.05)
        sock.sendall(b"0\r\n\r\n")
        return read_response(sock)


def test_memory_returns_after_a_burst_of_uploads(tmp_path: Path) -> None:
    """64 concurrent uploads of unknown size (8 MiB each) raise the RSS by ~2.5 MiB each; once they
    end, the RSS settles back near where it started (before the heap trim it stayed ~70 MiB up)."""
    config = {
        "credentials": [{"access_key": PAIR[0], "secret_key": PAIR[1]}],
        "backends": {"local": {"type": "fs", "root": str(tmp_path / "data"), "fsync": False}},
    }
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(config))
    server = gateway_server(config=tmp_path / "gateway.yaml", log_path=tmp_path / "gateway.log").start()
    try:
        s3(server).create_bucket(Bucket="burst")
        assert chunked_put(server, "/burst/warm", 4).status == 200
        time.sleep(1.5)
        baseline = rss_kib(server)
        answers: list[int] = []
        threads = [
            threading.Thread(target=lambda n=n: answers.append(chunked_put(server, f"/burst/{n}", 32).status))
            for n in range(64)
        ]
        peak = 0
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_kib(server))
            time.sleep(0.1)
        assert answers == [200] * 64
        time.sleep(2.5)  # past the trim interval
        after = rss_kib(server)
    finally:
        server.stop()
    assert peak - baseline < 64 * 4 * 1024, f"{(peak - baseline) // 1024} MiB for 64 uploads"
    assert after - baseline < 24 * 1024, f"RSS {baseline} KiB -> peak {peak} -> {after} KiB after the burst"
