"""The opener fed stored bytes cut anywhere, the sealer fed plaintext cut anywhere: every offset of a unit as a chunk boundary, chunks of whole
packages and of whole packages give or take a few bytes, tampering inside a unit split across chunks.

The opener decrypts whole packages straight from a chunk and copies only a unit that straddles two
chunks, so each place a cut can fall (inside the header, a package, its tag, the trailer, on an edge) is
a different path through it."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backends.composite import sealedv1
from backends.composite.sealed import (
    HEADER,
    PACKAGE,
    TAG,
    TRAILER,
    UNIT,
    Header,
    Opener,
    Sealer,
    SealError,
    open_trailer,
)
from tests.helpers.sealv1 import Sealer as V1Sealer
from tests.unit.test_sealed import KEY, seal


def feed_cut(opener: Opener, stored: bytes, cuts: list[int], *, partial: bool = False) -> bytes:
    """Feed ``stored`` in the pieces ``cuts`` makes; the plaintext, checked to end where it should."""
    view = memoryview(stored)
    out = bytearray()
    for lo, hi in zip([0, *cuts], [*cuts, len(stored)], strict=True):
        out += opener.feed(view[lo:hi])
    opener.finish(partial=partial)
    return bytes(out)


def test_a_cut_at_every_offset_of_a_two_package_segment() -> None:
    """Every byte boundary of a segment (header, full package, final package, trailer), one cut each."""
    data = os.urandom(PACKAGE + 100)
    _, stored = seal(data)
    assert len(stored) == HEADER + UNIT + 100 + TAG + TRAILER
    for cut in range(len(stored) + 1):
        opener = Opener(KEY)
        assert feed_cut(opener, stored, [cut]) == data, cut
        assert opener.segments == 1


def test_a_cut_at_every_offset_of_a_package_between_segments() -> None:
    """Two cuts a package apart, slid across the boundary between two segments: each chunk then holds a
    straddled unit and a run of whole ones, and the run crosses a trailer and a header."""
    one, two = os.urandom(2 * PACKAGE + 7), os.urandom(3 * PACKAGE)
    stored = seal(one, part=1)[1] + seal(two, part=2)[1]
    boundary = len(stored) // 2
    for start in range(boundary - UNIT, boundary + 1, 97):
        opener = Opener(KEY)
        assert feed_cut(opener, stored, [start, start + UNIT]) == one + two, start
        assert opener.segments == 2


@pytest.mark.parametrize("chunk", [UNIT, 2 * UNIT, UNIT - 1, UNIT + 1, 3 * UNIT + HEADER, 1, TAG, 1 << 20])
def test_chunks_of_whole_packages_give_or_take(chunk: int) -> None:
    data = os.urandom(5 * PACKAGE + 3)
    _, stored = seal(data)
    cuts = list(range(chunk, len(stored), chunk))
    assert feed_cut(Opener(KEY), stored, cuts) == data


def test_a_ranged_start_cut_at_every_offset_of_its_first_package() -> None:
    """A read that starts at package 1 (no header in the bytes), cut in that package: every offset near
    its edges (and its tag), every 61st between (the two-package test above takes every offset)."""
    data = os.urandom(3 * PACKAGE + 50)
    header, stored = seal(data)
    span = stored[HEADER + UNIT : HEADER + 3 * UNIT + 50 + TAG]
    for cut in sorted({*range(0, 64), *range(64, UNIT - 64, 61), *range(UNIT - 64, UNIT + 1)}):
        opener = Opener(KEY, start=(header, 1))
        assert feed_cut(opener, span, [cut], partial=True) == data[PACKAGE:], cut


def test_an_incomplete_unit_gives_nothing_until_it_is_whole() -> None:
    data = os.urandom(PACKAGE + 1)
    _, stored = seal(data)
    opener = Opener(KEY)
    assert opener.feed(stored[: HEADER + UNIT - 1]) == b""
    assert opener.feed(stored[HEADER + UNIT - 1 : HEADER + UNIT]) == data[:PACKAGE]
    assert opener.feed(stored[HEADER + UNIT :]) == data[PACKAGE:]
    opener.finish()


@pytest.mark.parametrize("where", [HEADER + 5, HEADER + UNIT - 3, HEADER + 2 * UNIT + 9, -TRAILER + 2])
def test_a_flipped_byte_in_a_straddled_unit_fails(where: int) -> None:
    data = os.urandom(3 * PACKAGE + 1)
    _, stored = seal(data)
    bad = bytearray(stored)
    bad[where] ^= 0x40
    at = where % len(stored)
    for cut in (at - 1, at, at + 1):  # the flipped byte just before, at, and just after the cut
        with pytest.raises(SealError):
            feed_cut(Opener(KEY), bytes(bad), [cut])


def test_the_earlier_format_cut_at_every_offset_of_its_final_package() -> None:
    """A v1 segment ends with its final package: a cut anywhere in it, and the next segment's header."""
    first, second = os.urandom(PACKAGE + 30), os.urandom(10)
    stored = V1Sealer(KEY, 1, len(first), os.urandom(12)).seal(first)
    stored += V1Sealer(KEY, 2, len(second), os.urandom(12)).seal(second)
    for cut in range(HEADER + UNIT, HEADER + UNIT + 30 + TAG + HEADER + 1):
        opener = sealedv1.Opener(KEY)
        assert feed_cut(opener, stored, [cut]) == first + second, cut
        assert opener.segments == 2


def test_the_final_flag_is_checked_when_the_count_says_more() -> None:
    """A header saying one more package than the bytes hold: the last package sealed as final does not
    open as a middle one, wherever the chunk ends."""
    data = os.urandom(2 * PACKAGE)
    header, stored = seal(data)
    longer = Header(header.part, header.length + 1, header.nonce_base)
    for cut in (HEADER + UNIT, HEADER + 2 * UNIT, len(stored)):
        with pytest.raises(SealError):
            feed_cut(Opener(KEY, start=(longer, 0)), stored[HEADER:], [cut - HEADER], partial=True)


def reference_packages(header: Header, data: bytes) -> bytes:
    """A segment's header and packages as the format's description states them, package by package."""
    aead, raw, base = AESGCM(KEY), header.pack(), int.from_bytes(header.nonce_base, "big")
    count = max(1, -(-len(data) // PACKAGE))
    out = [raw]
    for i in range(count):
        aad = raw + i.to_bytes(8, "big") + bytes([i == count - 1])
        out.append(aead.encrypt((base ^ i).to_bytes(12, "big"), data[i * PACKAGE : (i + 1) * PACKAGE], aad))
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, PACKAGE, PACKAGE + 1, 3 * PACKAGE, 3 * PACKAGE + 5])
@pytest.mark.parametrize("sized", [True, False])
def test_sealed_bytes_are_the_formats_however_the_plaintext_is_cut(size: int, sized: bool) -> None:
    """Pieces of any size, several per call: the bytes are those the format states, byte for byte (the
    trailer's own nonce is random: it is checked by opening it)."""
    data = os.urandom(size)
    nonce_base = os.urandom(12)
    view = memoryview(data)
    for cuts in (
        [],
        [1],
        [PACKAGE - 1, PACKAGE + 1],
        list(range(7_000, size, 7_000)),
        [PACKAGE, 2 * PACKAGE],
    ):
        cuts = [c for c in cuts if c < size]
        pieces = [view[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, size], strict=True)]
        sealer = Sealer(KEY, Header(2, size if sized else 0, nonce_base, sized))
        stored = bytearray()
        for batch in (pieces[:1], pieces[1:3], pieces[3:]):  # one, two, then the rest in one call
            stored += sealer.feed(*batch)
        stored += sealer.finish()
        header = Header(2, size, nonce_base, sized)
        assert sealer.header == header
        expected = reference_packages(header, data)
        assert bytes(stored[: len(expected)]) == expected, cuts
        assert open_trailer(AESGCM(KEY), bytes(stored[len(expected) :])) == (
            header,
            hashlib.md5(data).digest(),
        )
