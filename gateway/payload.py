"""The request body as a verifying stream: framing removed, hashes and checksums checked at the end.

One ``PayloadDecoder`` per request. The app feeds it the wire body as it arrives and passes the
decoded bytes on; ``finish()`` raises the S3 error when anything declared about the body does not hold
(length, x-amz-content-sha256, Content-MD5, x-amz-checksum-* header or trailer, chunk signatures).
The store must discard what it received when finish() raises: an upload lands whole and verified, or
not at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping

from backends.wire.checksums import Algorithm, Checksummer, decode_checksum, display_name, normalize_algorithm
from gateway.auth.chunked import AwsChunkedParser
from gateway.auth.sigv4 import (
    STREAMING_MODES,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    ChunkSigner,
)
from gateway.errors import S3Error

_HEX_DIGITS = frozenset("0123456789abcdef")


def _is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and set(value.lower()) <= _HEX_DIGITS


def _in_turn(updates: list[Callable[[bytes], None]]) -> Callable[[bytes], None]:
    def update(data: bytes) -> None:
        for one in updates:
            one(data)

    return update


def _invalid_content_sha256() -> S3Error:
    return S3Error(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid "
        "sha256 value.",
        ArgumentName="x-amz-content-sha256",
    )


class _Declared:
    """What the headers say about the decoded body, validated up front."""

    def __init__(self, headers: Mapping[str, str], *, trailer_mode: bool):
        self.header_values: dict[Algorithm, bytes] = {}
        self.trailer_algs: list[Algorithm] = []
        self.md5: bytes | None = None
        for name, value in headers.items():
            if not name.startswith("x-amz-checksum-"):
                continue
            alg = normalize_algorithm(name)
            if alg is None:
                continue  # x-amz-checksum-mode, -algorithm, -type: not a value of the body
            raw = decode_checksum(alg, value)
            if raw is None:
                raise S3Error("InvalidRequest", f"Value for {name} header is invalid.")
            self.header_values[alg] = raw
        trailer = headers.get("x-amz-trailer", "")
        for item in trailer.split(",") if trailer else ():
            if not item.strip():
                continue
            alg = normalize_algorithm(item)
            if alg is None or not item.strip().lower().startswith("x-amz-checksum-"):
                raise S3Error(
                    "InvalidRequest",
                    f"The value specified in the x-amz-trailer header is not supported: {item.strip()}",
                )
            self.trailer_algs.append(alg)
        if self.trailer_algs and not trailer_mode:
            raise S3Error(
                "InvalidRequest", "x-amz-trailer needs a STREAMING-*-TRAILER x-amz-content-sha256 value."
            )
        algs = (
            set(self.header_values).union(self.trailer_algs)
            if self.header_values or self.trailer_algs
            else set()
        )
        sdk = headers.get("x-amz-sdk-checksum-algorithm")
        if sdk is not None:
            sdk_alg = normalize_algorithm(sdk)
            if sdk_alg is None or (algs and sdk_alg not in algs):
                raise S3Error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
            algs.add(sdk_alg)
        if len(algs) > 1:
            raise S3Error(
                "InvalidRequest",
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            )
        self.algs: list[Algorithm] = sorted(algs) if algs else []
        md5 = headers.get("content-md5")
        if md5 is not None:
            try:
                self.md5 = base64.b64decode(md5.strip(), validate=True)
            except (binascii.Error, ValueError):
                self.md5 = b""
            if len(self.md5) != 16:
                raise S3Error("InvalidDigest")


class PayloadDecoder:
    """Sans-I/O body decoder and verifier for one request (see the module docstring)."""

    def __init__(
        self,
        declared: _Declared,
        *,
        declared_size: int | None,
        sha256_hex: str | None = None,
        parser: AwsChunkedParser | None = None,
    ):
        self.declared_size = declared_size
        self.checksums: dict[str, str] = {}
        self.md5_hex: str | None = None
        self._declared = declared
        self._parser = parser
        self._sha256_hex = sha256_hex.lower() if sha256_hex else None
        self._sha256 = hashlib.sha256() if sha256_hex else None
        self._md5 = hashlib.md5() if declared.md5 is not None else None
        self._checksummers = [Checksummer(alg) for alg in declared.algs]
        self._length = 0
        self._finished = False
        self._deferred = False

    @property
    def declared(self) -> dict[str, str]:
        """The integrity values the headers declared up front (``md5``, algorithm → base64); not those a
        trailer will bring, which are known only at the end."""
        values: dict[str, str] = {
            alg: base64.b64encode(raw).decode("ascii") for alg, raw in self._declared.header_values.items()
        }
        if self._declared.md5:
            values["md5"] = base64.b64encode(self._declared.md5).decode("ascii")
        return values

    def ignore_checksum_headers(self) -> None:
        """For operations whose x-amz-checksum-* headers describe something other than this body
        (CompleteMultipartUpload: the whole object): neither compute nor verify them against it.
        Call before feeding."""
        self._declared.header_values = {}
        self._checksummers = [c for c in self._checksummers if c.alg in self._declared.trailer_algs]

    def want_md5(self) -> None:
        """Compute the body's MD5 even without a Content-MD5 to check (``md5_hex`` after ``finish``): a
        store that needs it for the ETag then takes it from here instead of hashing every byte again.
        Call before feeding."""
        if self._md5 is None:
            self._md5 = hashlib.md5()

    def defer_hashing(self) -> list[Callable[[bytes], None]]:
        """From now on ``feed`` only decodes and counts; the caller runs the returned lanes over every
        decoded byte, in order, before ``finish``. Each lane is one sequence of hash updates, independent
        of the others, so lanes can run at once on separate threads (hashlib releases the GIL on large
        buffers). Call before feeding."""
        self._deferred = True
        lanes: list[Callable[[bytes], None]] = []
        if self._md5 is not None:
            lanes.append(self._md5.update)  # the slowest hash alone in its lane
        rest: list[Callable[[bytes], None]] = [self._sha256.update] if self._sha256 is not None else []
        rest += [checker.update for checker in self._checksummers]
        if rest:
            lanes.append(rest[0] if len(rest) == 1 else _in_turn(rest))
        return lanes

    def _update(self, piece: bytes | memoryview) -> None:
        self._length += len(piece)
        if self.declared_size is not None and self._length > self.declared_size:
            raise S3Error("InvalidRequest", "The body is longer than its declared length.")
        if self._deferred:
            return
        if self._sha256 is not None:
            self._sha256.update(piece)
        if self._md5 is not None:
            self._md5.update(piece)
        for checker in self._checksummers:
            checker.update(piece)

    def feed(self, data: bytes) -> bytes:
        """Raw wire bytes in (any split); decoded object bytes out."""
        return b"".join(self.feed_pieces(data))

    def feed_pieces(self, data: bytes) -> list[bytes] | list[memoryview]:
        """``feed``, the decoded bytes left as the slices of ``data`` they are (valid while it is), for
        a caller that copies them into a batch anyway."""
        if self._parser is None:
            self._update(data)
            return [data]
        pieces = self._parser.feed(data)
        for piece in pieces:
            self._update(piece)
        return pieces

    def finish(self) -> None:
        """The wire body ended: verify everything declared about it."""
        if self._finished:
            return
        if self._parser is not None:
            self._parser.finish()
        if self.declared_size is not None and self._length != self.declared_size:
            raise S3Error("IncompleteBody")
        if self._sha256 is not None and self._sha256_hex is not None:
            computed = self._sha256.hexdigest()
            if not hmac.compare_digest(computed, self._sha256_hex):
                raise S3Error(
                    "XAmzContentSHA256Mismatch",
                    ClientComputedContentSHA256=self._sha256_hex,
                    S3ComputedContentSHA256=computed,
                )
        if self._md5 is not None:
            digest = self._md5.digest()
            if self._declared.md5 is not None and not hmac.compare_digest(digest, self._declared.md5):
                raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
            self.md5_hex = digest.hex()
        expected = dict(self._declared.header_values)
        for alg in self._declared.trailer_algs:
            expected[alg] = self._trailer_value(alg)
        for checker in self._checksummers:
            digest = checker.digest()
            want = expected.get(checker.alg)
            if want is not None and not hmac.compare_digest(digest, want):
                raise S3Error(
                    "BadDigest",
                    f"The {display_name(checker.alg)} you specified did not match the calculated checksum.",
                )
            self.checksums[checker.alg] = base64.b64encode(digest).decode("ascii")
        self._finished = True

    def _trailer_value(self, alg: Algorithm) -> bytes:
        name = f"x-amz-checksum-{alg}"
        value = self._parser.trailers.get(name) if self._parser is not None else None
        if value is None:
            raise S3Error("MalformedTrailerError")
        raw = decode_checksum(alg, value)
        if raw is None:
            raise S3Error("InvalidRequest", f"Value for {name} trailing header is invalid.")
        return raw


def new_payload_decoder(
    headers: Mapping[str, str],
    *,
    content_sha256: str | None,
    signer: ChunkSigner | None = None,
) -> PayloadDecoder:
    """The decoder for a request whose body is described by ``content_sha256`` (None: unsigned).

    ``signer`` is the SigV4 chunk-signature chain; signed streaming bodies need one.
    """
    mode = (content_sha256 or UNSIGNED_PAYLOAD).strip()
    if mode not in STREAMING_MODES and mode != UNSIGNED_PAYLOAD and not _is_sha256_hex(mode):
        raise _invalid_content_sha256()
    streaming = mode in STREAMING_MODES
    declared = _Declared(headers, trailer_mode=mode in (STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER))
    if not streaming:
        length = headers.get("content-length")
        size = _parse_length(length, "Content-Length") if length is not None else None
        return PayloadDecoder(
            declared, declared_size=size, sha256_hex=None if mode == UNSIGNED_PAYLOAD else mode
        )
    if mode != STREAMING_UNSIGNED_TRAILER and signer is None:
        raise S3Error("InvalidRequest", f"{mode} needs a request signed with a SigV4 Authorization header.")
    decoded = headers.get("x-amz-decoded-content-length")
    if decoded is None:
        raise S3Error("MissingContentLength", "You must provide the x-amz-decoded-content-length header.")
    parser = AwsChunkedParser(
        signer=signer if mode != STREAMING_UNSIGNED_TRAILER else None,
        trailer=mode != STREAMING_SIGNED,
        signed_trailer=mode == STREAMING_SIGNED_TRAILER,
    )
    return PayloadDecoder(
        declared, declared_size=_parse_length(decoded, "x-amz-decoded-content-length"), parser=parser
    )


def _parse_length(value: str, name: str) -> int:
    text = value.strip()
    if not text.isdigit() or len(text) > 19:
        raise S3Error("InvalidArgument", f"{name} must be a non-negative integer.", ArgumentName=name)
    return int(text)
