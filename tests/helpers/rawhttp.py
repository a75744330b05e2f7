"""HTTP/1.1 by hand over a socket, for the tests that must send what no client library would: half a
body, a header a byte at a time, a malformed request line, or nothing at all.

``sign`` gives the headers botocore's SigV4 signer would send, so a raw request still reaches the
handlers; ``read_response`` parses one answer off the socket (Content-Length or close-delimited).
Beside them, what these tests share: a boto3 client without retries, and a process's RSS.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from lxml import etree

from tests.helpers.procs import ServerProcess

UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def error_code(self) -> str | None:
        """The S3 error document's Code, or None when the body is not one (with a RequestId)."""
        try:
            doc = etree.fromstring(self.body)
        except etree.XMLSyntaxError:
            return None
        if doc.tag != "Error" or not doc.findtext("RequestId"):
            return None
        return doc.findtext("Code")


def sign(
    base_url: str,
    method: str,
    target: str,
    pair: tuple[str, str],
    headers: Mapping[str, str] | None = None,
    payload: str = UNSIGNED,
) -> dict[str, str]:
    """``headers`` plus SigV4's (Host, X-Amz-Date, x-amz-content-sha256, Authorization) for ``target``
    exactly as given, with ``payload`` as the declared payload hash."""
    req = AWSRequest(method=method, url=f"{base_url}{target}", headers=dict(headers or {}))
    _Signer(Credentials(*pair), "s3", "us-east-1", payload).add_auth(req)
    return {"Host": urlsplit(base_url).netloc, **dict(req.headers.items())}


class _Signer(S3SigV4Auth):
    """botocore's S3 signer with the payload hash given rather than computed."""

    def __init__(self, credentials: Credentials, service: str, region: str, payload: str):
        super().__init__(credentials, service, region)
        self._payload = payload

    def payload(self, request: AWSRequest) -> str:
        return self._payload


def head_block(method: str, target: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket, *, head: bool = False) -> Answer:
    """One HTTP/1.1 response, past any interim 1xx (``100 Continue``); raises ConnectionError if the
    peer closes before a status line."""
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before a full response head ({buf[:200]!r})")
            buf += chunk
        raw_head, rest = buf.split(b"\r\n\r\n", 1)
        if not raw_head.startswith(b"HTTP/1.1 1"):
            break
        buf = rest
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    _, status, *reason = status_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    answer = Answer(int(status), reason[0] if reason else "", headers)
    if head or answer.status in (204, 304):
        return answer
    if "content-length" in headers:
        want = int(headers["content-length"])
        while len(rest) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        answer.body = rest[:want]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        answer.body = _dechunk(sock, rest)
    else:
        while chunk := sock.recv(65536):
            rest += chunk
        answer.body = rest
    return answer


def _dechunk(sock: socket.socket, buf: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in buf:
            buf += _recv(sock)
        size_line, buf = buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(buf) < size + 2:
            buf += _recv(sock)
        body, buf = body + buf[:size], buf[size + 2 :]
        if size == 0:
            return body


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("closed inside a chunked body")
    return chunk


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the peer closed the connection (reading and dropping whatever it sends first),
    or None if it is still open after ``seconds``."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def client_for(server: ServerProcess, pair: tuple[str, str]):  # type: ignore[no-untyped-def]
    """boto3 on ``server``, path-style, one attempt per call (no retry hides a server fault)."""
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=pair[0],
        aws_secret_access_key=pair[1],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def rss_kib(server: ServerProcess) -> int:
    """The server process's resident set size, from /proc (Linux)."""
    if server.proc is None:
        raise RuntimeError("the server is not running")
    with open(f"/proc/{server.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status")
