"""minio-py, taught to send a body it never holds: a file-like request body signed UNSIGNED-PAYLOAD.

minio-py signs every body it sends with its SHA-256 (plain http) or MD5 (https), so it needs the body as
``bytes``: ``put_object`` and ``_upload_part`` read whole parts into memory. ``StreamingMinio`` keeps
minio's URL building, SigV4 signer, error parsing and connection pool, and changes one thing: when the
body is a ``SizedStream`` it declares the length, signs the payload as ``UNSIGNED-PAYLOAD`` (which S3,
MinIO and SigV4 gateways accept) and hands the file-like to urllib3, which sends it block by block.
Memory per upload is then one chunk of the client's stream, whatever the object size.
"""

from __future__ import annotations

from typing import IO, Any, Protocol, runtime_checkable

import certifi
import urllib3
from minio import Minio
from minio.credentials import Credentials
from urllib3.util import Retry, Timeout

from backends.bridge import DEFAULT_CHUNK, BodyReadError
from backends.s3.wire import encode_dot_segments

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: What urllib3 asks a streamed body for per send: more than any piece the gateway hands over (1 MiB
#: batches plus the tail of the socket read that completed them), so ``SyncReader`` gives each piece
#: whole, one ``sendall`` each. At exactly 1 MiB, every batch was sliced in two, its first MiB copied and
#: sent apart from its few-KiB tail: a copy of the whole body and twice the sends and thread hops.
#: ``read`` never returns more than one piece, so memory per upload stays one piece.
SEND_BLOCK = 4 * DEFAULT_CHUNK


class Source(Protocol):
    """Where a streamed body comes from: the bridge's SyncReader, or a spooled part of unknown size."""

    def read(self, size: int = -1) -> bytes: ...

    def drain_to_eof(self) -> bool: ...


class SpooledSource:
    """A finished, verified body kept in a spooled temporary file (memory up to its spool size)."""

    def __init__(self, file: IO[bytes]):
        self._file = file

    def read(self, size: int = -1) -> bytes:
        """At most one bridge chunk whatever urllib3 asks (``SEND_BLOCK``): memory stays one chunk."""
        return self._file.read(DEFAULT_CHUNK if size is None or size < 0 else min(size, DEFAULT_CHUNK))

    def drain_to_eof(self) -> bool:
        return True


@runtime_checkable
class Streamed(Protocol):
    """A request body urllib3 streams: its wire length, how its payload is signed, the headers that
    describe its framing (none for a plain body)."""

    length: int
    content_sha256: str

    def read(self, size: int = -1) -> bytes: ...

    def headers(self) -> dict[str, str]: ...


class SizedStream:
    """Exactly ``length`` bytes of a Source, as a request body urllib3 streams.

    When ``final``, the last bytes are handed over only once the client's stream has ended normally:
    a body that fails its end-of-stream check (a checksum, a length) then aborts the request before the
    store has the whole Content-Length, so the store never commits it. A stream that ends early or runs
    on past ``length`` fails the same way. It has no ``tell``/``seek``, so urllib3 never replays it.
    """

    content_sha256 = UNSIGNED_PAYLOAD

    def __init__(self, reader: Source, length: int, *, final: bool):
        self.reader = reader
        self.length = length
        self.final = final
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        piece = self.reader.read(want)
        if not piece:
            raise BodyReadError(f"request body ended {self._left} bytes before its declared length")
        self._left -= len(piece)
        if self._left == 0 and self.final:
            self.check_end()
        return piece

    def headers(self) -> dict[str, str]:
        return {}

    def check_end(self) -> None:
        """Raise unless the client's stream ended normally right here (no bytes beyond ``length``)."""
        if not self.reader.drain_to_eof():
            raise BodyReadError("request body is longer than its declared length")


class StreamingMinio(Minio):
    """A Minio client whose requests may carry a ``Streamed`` body (see the module docstring), and
    whose URLs keep keys with ``.``/``..`` segments intact: urllib3 removes dot segments from a path
    after minio signed it, which would fail the signature, or, on a store that checks none, write
    another key. Encoded as ``%2E``, a dot segment survives and the store decodes the real key."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        build = self._base_url.build

        def dot_safe_build(**kw: Any) -> Any:
            url = build(**kw)
            return url._replace(path=encode_dot_segments(url.path))

        self._base_url.build = dot_safe_build  # type: ignore[method-assign]

    def _build_headers(  # type: ignore[override]
        self,
        host: str,
        headers: dict | None = None,
        body: object = None,
        creds: Credentials | None = None,
    ):
        if not isinstance(body, Streamed):
            return super()._build_headers(host, headers, body, creds)  # type: ignore[arg-type]
        given = {**(headers or {}), **body.headers()}
        built, date = super()._build_headers(host, dict(given), None, creds)
        built["Content-Length"] = str(body.length)
        if "Content-MD5" not in given:
            built.pop("Content-MD5", None)  # minio's MD5 of "no body" would be wrong
        if creds is not None or body.content_sha256 != UNSIGNED_PAYLOAD:
            built["x-amz-content-sha256"] = body.content_sha256
        return built, date


def http_pool(
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int,
    ca_bundle: str | None,
) -> urllib3.PoolManager:
    """The connection pool: bounded timeouts, connect retries only, ``SEND_BLOCK`` send blocks.

    Reads are never retried here (a retry composite above decides, and a streamed body cannot be
    replayed); status retries are off so 503 SlowDown reaches the caller. The send block is what urllib3
    asks a body's ``read`` for, see ``SEND_BLOCK``.
    """
    return urllib3.PoolManager(
        timeout=Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=max_connections,
        block=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_bundle or certifi.where(),
        retries=Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, raise_on_status=False),
        blocksize=SEND_BLOCK,
    )
