"""The stored format of an encrypted object: AES-256-GCM in fixed-size authenticated packages (pure code).

A stored object is one or more *segments* (one for a PutObject, one per part for a multipart upload),
each a 32-byte header followed by packages::

    header   = b"s3b\\x01" | part number (u32) | plaintext length (u64) | nonce base (12) | 4 zero bytes
    package  = AES-256-GCM(data key, nonce, plaintext[i*64 KiB : (i+1)*64 KiB], aad) = ciphertext | tag(16)
    nonce    = nonce base XOR i (big-endian, 96 bits)
    aad      = header | i (u64) | final flag (1 byte)

As in MinIO's DARE format, every package carries its own tag, so a ranged read decrypts only the packages
it covers, and the package index and the final flag in the additional data make a reordered, dropped or
truncated package fail authentication instead of decrypting to wrong data. The header is bound into
every package's additional data, so a changed length, part number or nonce base fails too. An empty
segment still has one (empty) final package, so even an empty object is authenticated.

The nonce base is random per segment: uploading the same part twice never reuses a (key, nonce) pair.
The data key itself is random per object (see ``keys``); this module only seals and opens bytes.

Sizes: a segment of ``L`` plaintext bytes takes ``32 + L + 16 * max(1, ceil(L / 64 KiB))`` stored
bytes. When every segment but the last is a whole number of packages (a multipart upload whose parts are
multiples of 64 KiB: every MiB-sized part is), the plaintext size of ``n`` segments follows from the
stored size alone (``plaintext_size``), so listings need no extra request per object.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PACKAGE = 64 * 1024
TAG = 16
HEADER = 32
MAGIC = b"s3b\x01"
_HEADER = struct.Struct(">4sIQ12s4x")
_AAD_TAIL = struct.Struct(">QB")


class SealError(Exception):
    """The stored bytes are not an intact sealed stream under this key: tampered, truncated or foreign."""


def packages(length: int) -> int:
    """Packages in a segment of ``length`` plaintext bytes (an empty one still has its final package)."""
    return max(1, -(-length // PACKAGE))


def stored_size(length: int) -> int:
    """Stored bytes of one segment holding ``length`` plaintext bytes."""
    return HEADER + length + TAG * packages(length)


def plaintext_size(stored: int, segments: int = 1) -> int:
    """The plaintext size of ``segments`` segments taking ``stored`` bytes, every segment but the last
    a whole number of packages. Raises SealError when no such layout has that size."""
    rest = stored - HEADER * segments
    if rest < TAG:
        raise SealError(f"{stored} stored bytes cannot hold {segments} sealed segment(s)")
    count = -(-rest // (PACKAGE + TAG))
    length = rest - TAG * count
    if length < 0 or (length == 0 and count != 1) or (segments == 1 and stored_size(length) != stored):
        raise SealError(f"{stored} stored bytes is not a sealed size")
    return length


@dataclass(frozen=True)
class Header:
    part: int
    length: int
    nonce_base: bytes

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, self.part, self.length, self.nonce_base)

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        if len(raw) != HEADER:
            raise SealError("truncated segment header")
        magic, part, length, nonce_base = _HEADER.unpack(raw)
        if magic != MAGIC or raw[-4:] != b"\0\0\0\0":
            raise SealError("not a sealed segment")
        return cls(part, length, nonce_base)

    @property
    def packages(self) -> int:
        return packages(self.length)

    @property
    def stored_size(self) -> int:
        return stored_size(self.length)

    def package_length(self, index: int) -> int:
        """Plaintext bytes in package ``index``."""
        return min(PACKAGE, self.length - index * PACKAGE)

    def nonce(self, index: int) -> bytes:
        return (int.from_bytes(self.nonce_base, "big") ^ index).to_bytes(12, "big")

    def aad(self, raw: bytes, index: int) -> bytes:
        return raw + _AAD_TAIL.pack(index, index == self.packages - 1)


class Sealer:
    """Seals one segment: feed plaintext, get stored bytes (header first, then whole packages)."""

    def __init__(self, key: bytes, header: Header):
        self._aead = AESGCM(key)
        self.header = header
        self._raw = header.pack()
        self._buf = bytearray()
        self._index = 0
        self._seen = 0
        self._started = False

    def _seal(self, data: bytes | memoryview) -> bytes:
        h = self.header
        sealed = self._aead.encrypt(h.nonce(self._index), data, h.aad(self._raw, self._index))
        self._index += 1
        return sealed

    def feed(self, data: bytes) -> list[bytes]:
        """The stored bytes ready after ``data``; a package is sealed once a later byte shows it is not the
        last, so the final flag is always right. Raises SealError past the declared length."""
        self._seen += len(data)
        if self._seen > self.header.length:
            raise SealError("more plaintext than the segment's declared length")
        out = [] if self._started else [self._raw]
        self._started = True
        if self._buf:
            data = bytes(self._buf) + data
        view = memoryview(data)  # packages are sealed from slices of it, not copies
        full = len(view) // PACKAGE
        if full and len(view) == full * PACKAGE and self._seen == self.header.length:
            full -= 1  # the final package waits for finish()
        out += [self._seal(view[i * PACKAGE : (i + 1) * PACKAGE]) for i in range(full)]
        self._buf = bytearray(view[full * PACKAGE :])
        return out

    def finish(self) -> list[bytes]:
        """The last stored bytes; raises SealError when fewer bytes came than declared."""
        if self._seen != self.header.length:
            raise SealError("less plaintext than the segment's declared length")
        out = [] if self._started else [self._raw]
        self._started = True
        if self._index < self.header.packages:
            out.append(self._seal(bytes(self._buf)))
            self._buf.clear()
        return out


class Opener:
    """Opens a run of stored bytes: one or more segments, or a span of them starting at a package.

    ``start`` (a segment's header and a package index) begins inside a segment, for ranged reads; without
    it the bytes begin with a header. ``after_part`` is the part number the first segment must exceed when
    it starts with a header (parts are in ascending order in a multipart object).
    """

    def __init__(self, key: bytes, *, start: tuple[Header, int] | None = None, after_part: int = -1):
        self._aead = AESGCM(key)
        self._buf = bytearray()
        self._last_part = after_part
        self.segments = 0
        self._header: Header | None = None
        self._raw = b""
        self._index = 0
        if start is not None:
            self._header, self._index = start
            self._raw = self._header.pack()
            self._last_part = self._header.part

    def feed(self, data: bytes) -> list[bytes]:
        """Plaintext of every package completed by ``data``; raises SealError on any tampering."""
        if self._buf:
            data = bytes(self._buf) + data
        view = memoryview(data)  # packages are opened from slices of it, not copies
        out: list[bytes] = []
        pos = 0
        while True:
            if self._header is None:
                if len(view) - pos < HEADER:
                    break
                self._open_header(bytes(view[pos : pos + HEADER]))
                pos += HEADER
                continue
            h = self._header
            need = h.package_length(self._index) + TAG
            if len(view) - pos < need:
                break
            out.append(self._open(h, view[pos : pos + need]))
            pos += need
        self._buf = bytearray(view[pos:])
        return out

    def _open_header(self, raw: bytes) -> None:
        header = Header.parse(raw)
        if header.part <= self._last_part:
            raise SealError("segments out of order")
        self._header, self._raw, self._index = header, raw, 0
        self._last_part = header.part

    def _open(self, h: Header, chunk: bytes | memoryview) -> bytes:
        try:
            plain = self._aead.decrypt(h.nonce(self._index), chunk, h.aad(self._raw, self._index))
        except InvalidTag:
            raise SealError("a package failed authentication") from None
        self._index += 1
        if self._index == h.packages:
            self._header = None
            self.segments += 1
        return plain

    def finish(self, *, partial: bool = False) -> None:
        """Check the bytes ended on a segment's end (``partial``: on a package's end, for ranged reads)."""
        if self._buf:
            raise SealError("the stored bytes end inside a package")
        if not partial and self._header is not None:
            raise SealError("the stored bytes end inside a segment")


def locate(offset: int, header: Header) -> int:
    """Index of the package holding plaintext ``offset`` of a segment."""
    return min(offset // PACKAGE, header.packages - 1)


def package_offset(index: int) -> int:
    """Where package ``index`` starts within its segment's stored bytes."""
    return HEADER + index * (PACKAGE + TAG)
