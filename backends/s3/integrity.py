"""The integrity check S3 wants on a write that locks: Content-MD5 or an x-amz-checksum-* (S3 refuses a
PutObject with Object Lock headers without one, and some stores an UploadPart of a locked upload).

A streamed body's digest is known only once the last byte went out, so the backend cannot compute one
up front. Two honest ways remain, both verified by the store:

- the client declared its own value up front (Content-MD5, ``x-amz-checksum-<alg>`` header): the bytes
  the backend sends are the client's own, so that value is forwarded (``forwarded_headers``);
- otherwise (the client's checksum arrives in a trailer, or a composite below the gateway changed the
  bytes) the body goes out ``aws-chunked`` with a trailing ``x-amz-checksum-crc32`` the backend computes
  as the bytes flow (``TrailerStream``, S3's STREAMING-UNSIGNED-PAYLOAD-TRAILER). A store that does not
  know trailing checksums (Ceph RGW before 18) refuses it: the write fails, it is never stored unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping

from backends.s3.client import SizedStream
from backends.wire.checksums import ALGORITHMS, Checksummer, display_name

TRAILER_PAYLOAD = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#: The algorithm of the trailing checksum the backend computes itself.
TRAILER_ALGORITHM = "crc32"
#: The decoded bytes framed as one aws-chunk (the last one may be shorter).
FRAME = 64 * 1024


def forwarded_headers(declared: Mapping[str, str]) -> dict[str, str]:
    """The request headers carrying the client's up-front integrity values (``md5`` → Content-MD5, an
    algorithm of ALGORITHMS → its ``x-amz-checksum-*`` header with ``x-amz-sdk-checksum-algorithm``)."""
    headers = md5_header(declared)
    for alg in ALGORITHMS:
        if alg in declared:
            headers[f"x-amz-checksum-{alg}"] = declared[alg]
            headers["x-amz-sdk-checksum-algorithm"] = display_name(alg)
    return headers


def md5_header(declared: Mapping[str, str]) -> dict[str, str]:
    """The client's Content-MD5, forwarded alone (an UploadPart: S3 may want a check on a locked upload's
    parts, and a part's x-amz-checksum-* must match the upload's algorithm, which the store was not told)."""
    return {"Content-MD5": declared["md5"]} if "md5" in declared else {}


def _frame_length(size: int) -> int:
    return len(f"{size:x}") + 2 + size + 2


def encoded_length(decoded: int, alg: str = TRAILER_ALGORITHM) -> int:
    """The Content-Length of ``decoded`` bytes framed by TrailerStream: known before any byte is read,
    since every frame but the last holds exactly FRAME bytes."""
    full, rest = divmod(decoded, FRAME)
    body = full * _frame_length(FRAME) + (_frame_length(rest) if rest else 0)
    return body + len(b"0\r\n") + len(_trailer(alg, Checksummer(alg).b64digest()))


def _trailer(alg: str, value: str) -> bytes:
    return f"x-amz-checksum-{alg}:{value}\r\n\r\n".encode("ascii")


class TrailerStream:
    """A SizedStream's bytes as an aws-chunked request body ending in a trailing checksum.

    The inner stream's end-of-body check runs when its last bytes are read, before the frame holding
    them is handed over: a client body that fails its own check aborts the request short of its
    Content-Length, so the store commits nothing. Memory: one frame.
    """

    content_sha256 = TRAILER_PAYLOAD

    def __init__(self, inner: SizedStream, alg: str = TRAILER_ALGORITHM):
        self.inner = inner
        self.alg = alg
        self.length = encoded_length(inner.length, alg)
        self._sum = Checksummer(alg)
        self._left = inner.length
        self._done = False

    def headers(self) -> dict[str, str]:
        """What the store needs to decode the body and find the trailer."""
        return {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(self.inner.length),
            "x-amz-trailer": f"x-amz-checksum-{self.alg}",
            "x-amz-sdk-checksum-algorithm": display_name(self.alg),
        }

    def read(self, size: int = -1) -> bytes:
        """The next whole frame (or the closing frame and trailer), whatever ``size`` asks."""
        if self._done:
            return b""
        if self._left == 0:
            if self.inner.length == 0 and self.inner.final:
                self.inner.check_end()
            self._done = True
            return b"0\r\n" + _trailer(self.alg, self._sum.b64digest())
        want = min(FRAME, self._left)
        pieces: list[bytes] = []
        got = 0
        while got < want:
            piece = self.inner.read(want - got)  # raises when the client's body ends early
            pieces.append(piece)
            got += len(piece)
        data = b"".join(pieces)
        self._left -= got
        self._sum.update(data)
        return f"{got:x}\r\n".encode("ascii") + data + b"\r\n"
