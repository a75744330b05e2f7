"""Segments sealed before their length was known (uploads of undeclared length): the header says
``UNSIZED``, the trailer gives the length; they open with the trailers' layout, whole or from any
package, and a cut, a changed trailer or a header passed off as sized still fails."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backends.composite import sealed
from backends.composite.sealed import (
    HEADER,
    PACKAGE,
    TAG,
    TRAILER,
    UNSIZED,
    Header,
    Opener,
    Sealer,
    SealError,
)
from tests.unit.test_sealed_v1 import flip, open_with

KEY = bytes(range(32))
SIZES = [0, 1, PACKAGE - 1, PACKAGE, PACKAGE + 1, 3 * PACKAGE, 3 * PACKAGE + 17]


def seal_unsized(data: bytes, part: int = 0, chunk: int = 10_000) -> tuple[Header, bytes]:
    sealer = Sealer(KEY, Header(part, 0, os.urandom(12), sized=False))
    out = bytearray()
    for i in range(0, len(data), chunk):
        out += sealer.feed(data[i : i + chunk])
    out += sealer.finish()
    return sealer.header, bytes(out)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("chunk", [1_000, PACKAGE, 10**7])
def test_round_trip_with_the_trailers_layout(size: int, chunk: int) -> None:
    data = os.urandom(size)
    header, stored = seal_unsized(data, chunk=chunk)
    assert (header.length, header.sized) == (size, False)
    assert len(stored) == sealed.stored_size(size) and sealed.plaintext_size(len(stored)) == size
    assert Header.parse(stored[:HEADER]).length == UNSIZED and not Header.parse(stored[:HEADER]).sized
    trailer = stored[-TRAILER:]
    assert sealed.trailer_header(trailer) == header
    assert sealed.open_trailer(AESGCM(KEY), trailer) == (header, hashlib.md5(data).digest())
    assert open_with(Opener(KEY, layout=[header]), stored, chunk) == data
    for index in range(header.packages):
        start = sealed.package_offset(index)
        opener = Opener(KEY, start=(header, index), layout=[])
        end = len(stored) - TRAILER
        assert open_with(opener, stored[start:end], partial=True) == data[index * PACKAGE :]


def test_without_the_layout_it_is_refused() -> None:
    _, stored = seal_unsized(os.urandom(100))
    with pytest.raises(SealError):
        open_with(Opener(KEY), stored)


def test_segments_in_a_row() -> None:
    one, two = os.urandom(PACKAGE + 3), os.urandom(10)
    (h1, s1), (h2, s2) = seal_unsized(one, 1), seal_unsized(two, 2)
    opener = Opener(KEY, layout=[h1, h2])
    assert open_with(opener, s1 + s2) == one + two and opener.segments == 2
    with pytest.raises(SealError):  # a layout that is not the bytes'
        open_with(Opener(KEY, layout=[h2, h1]), s1 + s2)


def test_tampering_fails() -> None:
    data = os.urandom(3 * PACKAGE + 10)
    header, stored = seal_unsized(data)
    step = PACKAGE + TAG
    flipped, trailer = flip(stored, HEADER + step + 7), flip(stored, len(stored) - 1)
    sized_header = Header(header.part, header.length, header.nonce_base).pack()  # passed off as sized
    as_sized = sized_header + stored[HEADER:]
    cut = stored[: HEADER + 2 * step]
    short = Header(header.part, 2 * PACKAGE, header.nonce_base, sized=False)  # a forged, shorter layout
    cases = [
        (flipped, [header]),
        (trailer, [header]),
        (as_sized, [Header(header.part, header.length, header.nonce_base)]),
        (cut, [header]),
        (cut + stored[-TRAILER:], [short]),
    ]
    for bad, layout in cases:
        with pytest.raises(SealError):
            open_with(Opener(KEY, layout=layout), bad)


def test_a_sized_trailer_reads_as_before() -> None:
    """Trailers of segments whose length was declared carry no flag: those already stored read as they are."""
    sealer = Sealer(KEY, Header(4, 10, os.urandom(12)))
    stored = bytes(sealer.feed(b"0123456789")) + bytes(sealer.finish())
    assert stored[-TRAILER:][:4] == (4).to_bytes(4, "big")
    assert sealed.trailer_header(stored[-TRAILER:]) == sealer.header and sealer.header.sized
