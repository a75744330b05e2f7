"""The stored format of an encrypted object: AES-256-GCM in fixed-size authenticated packages (pure code).

A stored object is one or more *segments* (one for a PutObject, one per part for a multipart upload),
each a 32-byte header, the packages, and a 68-byte trailer::

    header   = b"s3b\\x02" | part number (u32) | plaintext length (u64) | nonce base (12) | 4 zero bytes
    package  = AES-256-GCM(data key, nonce, plaintext[i*64 KiB : (i+1)*64 KiB], aad) = ciphertext | tag(16)
    nonce    = nonce base XOR i (big-endian, 96 bits)
    aad      = header | i (u64) | final flag (1 byte)
    trailer  = part number (u32) | plaintext length (u64) | nonce base (12)      (in clear)
               | nonce (12, random) | AES-256-GCM(data key, nonce, MD5 of the plaintext, b"s3b-trailer" | clear)

As in MinIO's DARE format, every package carries its own tag, so a ranged read decrypts only the packages
it covers, and the package index and the final flag in the additional data make a reordered, dropped or
truncated package fail authentication instead of decrypting to wrong data. The header is bound into
every package's additional data, so a changed length, part number or nonce base fails too. An empty
segment still has one (empty) final package, so even an empty object is authenticated.

The trailer exists because a store takes an object's metadata before its body: the plaintext's MD5 (the
ETag S3 shows for SSE-S3) is known only once the body has flowed, so it goes at the end of the stored
bytes, sealed. Its clear half repeats the header, so reading trailers backwards from the end of an object
gives every segment's length and place (a multipart object's layout, whatever its part sizes) without a
key; a full read checks it equals the header. The MD5 is sealed so the store learns nothing from it.

A body of unknown length (a browser form's file) is sealed as it flows all the same: its header's
length is ``UNSIZED`` (so every package's additional data says so), its trailer gives the length and
marks the segment with the top bit of the part number (``Header.sized`` False). Such a segment opens
only with the layout its trailers gave (``Opener(layout=...)``); the final flag, the package count the
length implies and the sealed trailer still make a cut or a forged length fail.

The previous format (``s3b\\x01``: no trailers) is read by ``sealedv1``.

The nonce base is random per segment: uploading the same part twice never reuses a (key, nonce) pair.
The data key itself is random per object (see ``keys``); this module only seals and opens bytes.

Sizes: a segment of ``L`` plaintext bytes takes ``32 + L + 16 * max(1, ceil(L / 64 KiB)) + 68`` stored
bytes, so one segment's plaintext size follows from its stored size (``plaintext_size``).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PACKAGE = 64 * 1024
TAG = 16
HEADER = 32
#: Stored bytes of a whole (non-final) package.
UNIT = PACKAGE + TAG
MAGIC = b"s3b\x02"
_HEADER = struct.Struct(">4sIQ12s4x")
_AAD_TAIL = struct.Struct(">QB")
_CLEAR = struct.Struct(">IQ12s")
_NONCE = 12
_TRAILER_AAD = b"s3b-trailer"
#: The header's length field of a segment sealed before its length was known (an upload of undeclared
#: length): the length is then only in the trailer, which marks such a segment with this bit of its
#: part number (parts go to 10,000, so no sized segment has it).
UNSIZED = 0xFFFF_FFFF_FFFF_FFFF
_UNSIZED_PART = 0x8000_0000
#: Stored bytes of a segment's trailer.
TRAILER = _CLEAR.size + _NONCE + 16 + TAG


class SealError(Exception):
    """The stored bytes are not an intact sealed stream under this key: tampered, truncated or foreign."""


def packages(length: int) -> int:
    """Packages in a segment of ``length`` plaintext bytes (an empty one still has its final package)."""
    return max(1, -(-length // PACKAGE))


def stored_size(length: int) -> int:
    """Stored bytes of one segment holding ``length`` plaintext bytes."""
    return HEADER + length + TAG * packages(length) + TRAILER


def plaintext_size(stored: int) -> int:
    """The plaintext size of one segment taking ``stored`` bytes; SealError when no segment has that size."""
    rest = stored - HEADER - TRAILER
    if rest < TAG:
        raise SealError(f"{stored} stored bytes cannot hold a sealed segment")
    length = rest - TAG * -(-rest // (PACKAGE + TAG))
    if length < 0 or stored_size(length) != stored:
        raise SealError(f"{stored} stored bytes is not a sealed size")
    return length


@dataclass(frozen=True)
class Header:
    """A segment's header. Its class is its format: ``sealedv1.Header`` reads the earlier one."""

    part: int
    length: int
    nonce_base: bytes
    #: False for a segment sealed before its length was known: its header says ``UNSIZED`` (so the
    #: additional data of its packages does), its trailer gives the length.
    sized: bool = True

    MAGIC: ClassVar[bytes] = MAGIC

    def pack(self) -> bytes:
        length = self.length if self.sized else UNSIZED
        return _HEADER.pack(self.MAGIC, self.part, length, self.nonce_base)

    @classmethod
    def magic_of(cls, raw: bytes) -> bool:
        """Whether ``raw`` (a segment's first bytes) starts with this format's magic."""
        return raw[: len(cls.MAGIC)] == cls.MAGIC

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        if len(raw) != HEADER:
            raise SealError("truncated segment header")
        magic, part, length, nonce_base = _HEADER.unpack(raw)
        if magic != cls.MAGIC or raw[-4:] != b"\0\0\0\0":
            raise SealError("not a sealed segment")
        return cls(part, length, nonce_base, length != UNSIZED)

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


def seal_trailer(aead: AESGCM, header: Header, md5: bytes) -> bytes:
    part = header.part if header.sized else header.part | _UNSIZED_PART
    clear = _CLEAR.pack(part, header.length, header.nonce_base)
    nonce = os.urandom(_NONCE)
    return clear + nonce + aead.encrypt(nonce, md5, _TRAILER_AAD + clear)


def trailer_header(raw: bytes) -> Header:
    """The segment a trailer closes, from its clear half (not authenticated: ``open_trailer`` does that)."""
    if len(raw) != TRAILER:
        raise SealError("truncated segment trailer")
    part, length, nonce_base = _CLEAR.unpack(raw[: _CLEAR.size])
    return Header(part & ~_UNSIZED_PART, length, nonce_base, not part & _UNSIZED_PART)


def open_trailer(aead: AESGCM, raw: bytes) -> tuple[Header, bytes]:
    """(the segment's header, the MD5 of its plaintext), authenticated under the data key."""
    header = trailer_header(raw)
    clear, nonce, sealed_md5 = raw[: _CLEAR.size], raw[_CLEAR.size : _CLEAR.size + _NONCE], raw[-32:]
    try:
        return header, aead.decrypt(nonce, sealed_md5, _TRAILER_AAD + clear)
    except InvalidTag:
        raise SealError("a segment trailer failed authentication") from None


Crypt = Callable[[bytes, memoryview, bytes, memoryview], int]


def _run(
    crypt: Crypt,
    raw: bytes,
    base: int,
    first: int,
    count: int,
    src: memoryview,
    pos: int,
    step: int,
    dest: memoryview,
    at: int,
) -> None:
    """The hot loop of both ways: ``count`` whole packages of a segment (none of them its final one)
    from index ``first``, each ``crypt``-ed (``AESGCM.encrypt_into`` or ``decrypt_into``) from ``step``
    bytes of ``src`` at ``pos`` into ``dest`` at ``at``. ``raw``, the packed header, and ``base``, the
    nonce base as an int, are the segment's: computed once, not once per package."""
    size = PACKAGE + UNIT - step  # what a package becomes: sealed (UNIT) from PACKAGE bytes, or opened
    tail = _AAD_TAIL.pack
    for i in range(first, first + count):
        crypt(
            (base ^ i).to_bytes(12, "big"), src[pos : pos + step], raw + tail(i, False), dest[at : at + size]
        )
        pos += step
        at += size


class Sealer:
    """Seals one segment: feed plaintext, get stored bytes (header first, whole packages, the trailer).

    A header that is not ``sized`` seals a stream of unknown length: its ``length`` is ignored until
    ``finish``, which sets it to the bytes fed, for the trailer."""

    def __init__(self, key: bytes, header: Header, md5_of: Callable[[], bytes] | None = None):
        """``md5_of``: the plaintext's MD5 as another party computes it anyway (the gateway's request body,
        verifying Content-MD5 off the event loop), read once ``finish`` is called; None: hashed here."""
        self._aead = AESGCM(key)
        self.header = header
        self._raw = header.pack()
        self._base = int.from_bytes(header.nonce_base, "big")
        self._limit = header.length if header.sized else UNSIZED
        self._buf = bytearray()
        self._out = bytearray()
        self._index = 0
        self._seen = 0
        self._started = False
        own = hashlib.md5()
        self._md5 = own if md5_of is None else None
        self._md5_of = md5_of if md5_of is not None else own.digest

    @property
    def md5(self) -> bytes:
        """The MD5 of the plaintext (complete once the last byte was fed)."""
        return self._md5_of()

    def feed(self, *pieces: bytes | bytearray | memoryview) -> memoryview:
        """The stored bytes ready after ``pieces`` (fed in order), as a view valid until the next call; a
        package is sealed once a later byte shows it is not the last, so the final flag is always right.
        Raises SealError past the declared length. Packages are sealed with encrypt_into straight from
        the pieces into one buffer the sealer keeps; only a package split across pieces is copied."""
        size = sum(map(len, pieces))
        self._seen += size
        if self._seen > self._limit:
            raise SealError("more plaintext than the segment's declared length")
        at_end = self._seen == self._limit or not self.header.sized  # no byte may follow
        if self._md5 is not None:
            for piece in pieces:
                self._md5.update(piece)
        pending = len(self._buf) + size
        count = pending // PACKAGE  # packages this call seals
        if count and pending == count * PACKAGE and at_end:
            count -= 1  # the final package waits for finish()
        out = self._output(count * UNIT)
        at = self._start(out)
        for piece in pieces:
            at, count = self._seal_piece(memoryview(piece).cast("B"), out, at, count)
        return out[:at]

    def _output(self, size: int) -> memoryview:
        """The kept buffer, room for ``size`` sealed bytes and a header; replaced, never resized (a view
        handed out keeps its memory)."""
        if len(self._out) < HEADER + size:
            self._out = bytearray(HEADER + size)
        return memoryview(self._out)

    def _start(self, out: memoryview) -> int:
        """The header, first thing in the stored bytes; where the packages start in ``out``."""
        if self._started:
            return 0
        self._started = True
        out[:HEADER] = self._raw
        return HEADER

    def _seal_piece(self, view: memoryview, out: memoryview, at: int, count: int) -> tuple[int, int]:
        """Seal ``view``'s share of the ``count`` packages still to seal into ``out`` at ``at``: first
        the pending package it completes, then its whole ones; the rest waits in the pending bytes."""
        pos = 0
        if self._buf:
            pos = min(PACKAGE - len(self._buf), len(view))
            self._buf += view[:pos]
            if len(self._buf) < PACKAGE or not count:
                return at, count  # the piece went whole into the pending package
            at = self._seal_one(self._buf, out, at, False)
            self._buf = bytearray()
            count -= 1
        whole = min(count, (len(view) - pos) // PACKAGE)
        _run(self._aead.encrypt_into, self._raw, self._base, self._index, whole, view, pos, PACKAGE, out, at)
        self._index += whole
        self._buf += view[pos + whole * PACKAGE :]
        return at + whole * UNIT, count - whole

    def _seal_one(self, data: bytes | bytearray | memoryview, out: memoryview, at: int, final: bool) -> int:
        i = self._index
        end = at + len(data) + TAG
        self._aead.encrypt_into(
            (self._base ^ i).to_bytes(12, "big"), data, self._raw + _AAD_TAIL.pack(i, final), out[at:end]
        )
        self._index = i + 1
        return end

    def finish(self) -> memoryview:
        """The last stored bytes (a view, as ``feed`` gives); raises SealError when fewer bytes came than
        declared."""
        if not self.header.sized:
            self.header = replace(self.header, length=self._seen)
        if self._seen != self.header.length:
            raise SealError("less plaintext than the segment's declared length")
        out = self._output(len(self._buf) + TAG + TRAILER)
        at = self._start(out)
        if self._index < self.header.packages:
            at = self._seal_one(self._buf, out, at, True)
            self._buf = bytearray()
        trailer = seal_trailer(self._aead, self.header, self.md5)
        out[at : at + TRAILER] = trailer
        return out[: at + TRAILER]


class Opener:
    """Opens a run of stored bytes: one or more segments, or a span of them starting at a package.

    ``start`` (a segment's header and a package index) begins inside a segment, for ranged reads (which
    end on a package, before the trailer); without it the bytes begin with a header. ``after_part`` is
    the part number the first segment must exceed when it starts with a header (parts are in ascending
    order in a multipart object). ``md5s`` collects each whole segment's plaintext MD5 from its trailer.
    ``layout``: the headers of the segments the bytes hold (after ``start``'s), as the trailers gave them:
    each header read must be the one expected, and a segment sealed before its length was known (whose
    header does not say it) opens only so.
    """

    #: The format of the segments this opener reads (``sealedv1.Opener``: the earlier one).
    header_type: ClassVar[type[Header]] = Header

    def __init__(
        self,
        key: bytes,
        *,
        start: tuple[Header, int] | None = None,
        after_part: int = -1,
        layout: Iterable[Header] | None = None,
    ):
        self._aead = AESGCM(key)
        self._layout = None if layout is None else iter(layout)
        self._buf = bytearray()
        self._out = bytearray()
        self._last_part = after_part
        self.segments = 0
        self.md5s: list[bytes] = []
        self._header: Header | None = None
        # The open segment's constants, computed once per segment rather than once per package: its
        # packed header (the prefix of every package's additional data), nonce base and package count.
        self._raw = b""
        self._base = 0
        self._count = 0
        self._index = 0
        if start is not None:
            header, index = start
            self._enter(header, header.pack(), index)
            self._last_part = header.part

    def _enter(self, header: Header, raw: bytes, index: int) -> None:
        self._header, self._raw, self._index = header, raw, index
        self._base = int.from_bytes(header.nonce_base, "big")
        self._count = header.packages

    def feed(self, data: bytes | bytearray | memoryview) -> memoryview:
        """The plaintext of every package ``data`` completes (empty when none did), as a view valid until
        the next call; raises SealError on any tampering. Packages are decrypted straight into one buffer
        the opener keeps (still in the CPU's cache from the last chunk, where a new one per chunk would
        first be zeroed); only a unit (header, package, trailer) split across calls is copied, to be whole.
        """
        view = memoryview(data).cast("B")
        bound = len(self._buf) + len(view)  # plaintext is never longer than its stored bytes
        if len(self._out) < bound:  # replaced, never resized: a view handed out keeps its memory
            self._out = bytearray(bound)
        out = memoryview(self._out)
        return out[: self._open_into(view, out)]

    def _open_into(self, view: memoryview, dest: memoryview) -> int:
        """Open what ``view`` completes into ``dest``; the plaintext bytes written."""
        size, pos, at = len(view), 0, 0
        if self._buf:
            need = self._need() - len(self._buf)
            pos = min(need, size)
            self._buf += view[:pos]
            if pos < need:
                return 0
            unit, self._buf = self._buf, bytearray()  # whole now: opened as it is, not copied again
            at = self._unit(unit, dest, at)
        while True:
            if self._header is not None and self._index < self._count - 1:
                pos, at = self._packages(view, pos, dest, at)
            need = self._need()
            if size - pos < need:
                break
            at = self._unit(view[pos : pos + need], dest, at)
            pos += need
        if pos < size:
            self._buf = bytearray(view[pos:])
        return at

    def _packages(self, view: memoryview, pos: int, dest: memoryview, at: int) -> tuple[int, int]:
        """The hot loop: every whole package of the open segment in ``view`` from ``pos`` but its final
        one (which ``_unit`` opens, its flag set), each decrypted into ``dest`` at ``at``. Returns both
        positions past them."""
        first = self._index
        n = min(self._count - 1 - first, (len(view) - pos) // UNIT)
        try:
            _run(self._aead.decrypt_into, self._raw, self._base, first, n, view, pos, UNIT, dest, at)
        except InvalidTag:
            raise SealError("a package failed authentication") from None
        self._index = first + n
        return pos + n * UNIT, at + n * PACKAGE

    def _need(self) -> int:
        """Bytes of the next unit: a header, the next package, or the segment's trailer."""
        h = self._header
        if h is None:
            return HEADER
        if self._index == self._count:
            return TRAILER
        return h.package_length(self._index) + TAG

    def _unit(self, unit: bytes | bytearray | memoryview, dest: memoryview, at: int) -> int:
        """Open one whole unit; the position in ``dest`` past the plaintext it gave."""
        h = self._header
        if h is None:
            self._open_header(bytes(unit))
        elif self._index == self._count:
            self._close_segment(h, bytes(unit))
        else:
            return self._open(h, unit, dest, at)
        return at

    def _open_header(self, raw: bytes) -> None:
        header = self.header_type.parse(raw)
        if self._layout is not None:
            expected = next(self._layout, None)
            if expected is None or expected.pack() != raw:
                raise SealError("a segment header disagrees with its trailer")
            header = expected
        elif not header.sized:
            raise SealError("a segment of undeclared length opens only with its trailers' layout")
        if header.part <= self._last_part:
            raise SealError("segments out of order")
        self._enter(header, raw, 0)
        self._last_part = header.part

    def _open(self, h: Header, chunk: bytes | bytearray | memoryview, dest: memoryview, at: int) -> int:
        """Open package ``self._index`` (any, the final one included) into ``dest`` at ``at``."""
        i = self._index
        end = at + len(chunk) - TAG
        final = i == self._count - 1
        try:
            self._aead.decrypt_into(
                (self._base ^ i).to_bytes(12, "big"),
                chunk,
                self._raw + _AAD_TAIL.pack(i, final),
                dest[at:end],
            )
        except InvalidTag:
            raise SealError("a package failed authentication") from None
        self._index = i + 1
        if final:
            self._opened_all(h)
        return end

    def _opened_all(self, h: Header) -> None:
        """The segment's final package is open; in this format its trailer follows."""

    def _close_segment(self, h: Header, raw: bytes) -> None:
        closes, md5 = open_trailer(self._aead, raw)
        if closes != h:
            raise SealError("a segment trailer does not match its header")
        self.md5s.append(md5)
        self._header = None
        self.segments += 1

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
