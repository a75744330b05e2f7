"""The aws-chunked body framing, as a sans-I/O state machine.

``hex-size[;chunk-signature=sig]\\r\\n <data> \\r\\n`` … a zero-size chunk, then optional trailer lines
``name:value\\r\\n`` and an empty line. Wire bytes come in any split (one byte at a time works); data
bytes go straight out as they arrive, and only one header or trailer line is ever buffered, capped.
Chunk signatures (when a signer is given) are checked as each chunk ends, the trailer signature when
the body ends.
"""

from __future__ import annotations

import enum
import hashlib

from gateway.auth.sigv4 import EMPTY_SHA256, ChunkSigner, signatures_equal
from gateway.errors import S3Error

MAX_LINE = 4096  # longest chunk-header or trailer line accepted
MAX_TRAILER_LINES = 16
_HEX = frozenset(b"0123456789abcdefABCDEF")
TRAILER_SIGNATURE = "x-amz-trailer-signature"


class _State(enum.Enum):
    SIZE_LINE = enum.auto()
    DATA = enum.auto()
    DATA_END = enum.auto()  # the CRLF after a chunk's data
    TRAILER_LINE = enum.auto()
    DONE = enum.auto()


def _malformed(detail: str) -> S3Error:
    return S3Error("InvalidRequest", f"Malformed aws-chunked body: {detail}")


def _bad_chunk_signature() -> S3Error:
    return S3Error("SignatureDoesNotMatch", "The chunk signature does not match the one calculated.")


class AwsChunkedParser:
    """Decodes an aws-chunked body; ``trailers`` (lowercase name → value) is filled when it ends."""

    def __init__(
        self, *, signer: ChunkSigner | None = None, trailer: bool = True, signed_trailer: bool = False
    ):
        self._signer = signer
        self._trailer_allowed = trailer
        self._signed_trailer = signed_trailer
        self._previous = signer.seed if signer else ""
        self._state = _State.SIZE_LINE
        self._line = bytearray()
        self._remaining = 0
        self._crlf_seen = 0
        self._chunk_sig = ""
        self._chunk_hash: hashlib._Hash | None = None
        self._trailer_lines: list[bytes] = []
        self._trailer_signature: str | None = None
        self.trailers: dict[str, str] = {}

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """Consume wire bytes; return the decoded data slices they contained, in order."""
        view = memoryview(data).cast("B")
        out: list[memoryview] = []
        pos, end = 0, len(view)
        while pos < end:
            state = self._state
            if state is _State.DATA:
                take = min(self._remaining, end - pos)
                piece = view[pos : pos + take]
                if self._chunk_hash is not None:
                    self._chunk_hash.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._end_of_data()
            elif state is _State.DATA_END:
                expected = b"\r\n"[self._crlf_seen]
                if view[pos] != expected:
                    raise _malformed("chunk data is not followed by CRLF")
                pos += 1
                self._crlf_seen += 1
                if self._crlf_seen == 2:
                    self._state = _State.SIZE_LINE
            elif state is _State.DONE:
                raise _malformed("bytes after the end of the body")
            else:
                window = view[pos : min(end, pos + MAX_LINE + 1 - len(self._line))]
                newline = bytes(window).find(b"\n")
                if newline < 0:
                    self._line += window
                    pos += len(window)
                    if len(self._line) > MAX_LINE:
                        raise _malformed("line too long")
                    continue
                self._line += window[: newline + 1]
                pos += newline + 1
                line = bytes(self._line)
                self._line.clear()
                if not line.endswith(b"\r\n"):
                    raise _malformed("line does not end with CRLF")
                if state is _State.SIZE_LINE:
                    self._size_line(line[:-2])
                else:
                    self._trailer_line(line[:-2])
        return out

    def _size_line(self, line: bytes) -> None:
        size_text, _, extensions = line.partition(b";")
        size_text = size_text.strip()
        if not size_text or not set(size_text) <= _HEX or len(size_text) > 16:
            raise _malformed("invalid chunk size")
        size = int(size_text, 16)
        if self._signer is not None:
            name, eq, value = extensions.partition(b"=")
            if not eq or name.strip() != b"chunk-signature":
                raise _bad_chunk_signature()
            self._chunk_sig = value.strip().decode("ascii", "replace")
            self._chunk_hash = hashlib.sha256()
        self._remaining = size
        if size == 0:
            self._end_of_data()
            self._state = _State.TRAILER_LINE
        else:
            self._state = _State.DATA

    def _end_of_data(self) -> None:
        if self._signer is not None:
            chunk_hash = (self._chunk_hash or hashlib.sha256()).hexdigest()
            expected = self._signer.chunk_signature(self._previous, chunk_hash)
            if not signatures_equal(expected, self._chunk_sig):
                raise _bad_chunk_signature()
            self._previous = expected
            self._chunk_hash = None
        self._crlf_seen = 0
        self._state = _State.DATA_END

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_of_trailer()
            return
        if (
            not self._trailer_allowed
            or len(self._trailer_lines) >= MAX_TRAILER_LINES
            or self._trailer_signature is not None
        ):
            raise S3Error("MalformedTrailerError")
        name, colon, value = line.partition(b":")
        if not colon:
            raise S3Error("MalformedTrailerError")
        key = name.strip().lower().decode("ascii", "replace")
        text = value.strip().decode("ascii", "replace")
        if key == TRAILER_SIGNATURE:
            self._trailer_signature = text
            return
        self._trailer_lines.append(line)
        self.trailers[key] = text

    def _end_of_trailer(self) -> None:
        if self._signer is not None and self._signed_trailer:
            if self._trailer_signature is None:
                raise S3Error("SignatureDoesNotMatch", "The trailer signature is missing.")
            canonical = b"".join(line + b"\n" for line in self._trailer_lines)
            expected = self._signer.trailer_signature(self._previous, hashlib.sha256(canonical).hexdigest())
            if not signatures_equal(expected, self._trailer_signature):
                raise S3Error(
                    "SignatureDoesNotMatch", "The trailer signature does not match the one calculated."
                )
        elif self._trailer_signature is not None:
            raise S3Error("MalformedTrailerError")
        self._state = _State.DONE

    def finish(self) -> None:
        if self._state is not _State.DONE:
            raise S3Error("IncompleteBody", "The aws-chunked body ended before its final chunk and trailer.")


__all__ = ["AwsChunkedParser", "EMPTY_SHA256", "MAX_LINE"]
