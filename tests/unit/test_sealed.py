"""The sealed format alone: round trips, every range boundary, and tampering that must fail."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backends.composite import sealed
from backends.composite.sealed import HEADER, PACKAGE, TAG, TRAILER, Header, Opener, Sealer, SealError

KEY = bytes(range(32))
SIZES = [0, 1, PACKAGE - 1, PACKAGE, PACKAGE + 1, 3 * PACKAGE, 3 * PACKAGE + 17]


def seal(data: bytes, part: int = 0, key: bytes = KEY, chunk: int = 10_000) -> tuple[Header, bytes]:
    header = Header(part, len(data), os.urandom(12))
    sealer = Sealer(key, header)
    out = bytearray()
    for i in range(0, len(data), chunk):
        out += sealer.feed(data[i : i + chunk])
    out += sealer.finish()
    return header, bytes(out)


def open_all(stored: bytes, key: bytes = KEY, chunk: int = 7_000) -> bytes:
    opener = Opener(key)
    out = bytearray()
    for i in range(0, len(stored), chunk):
        out += opener.feed(stored[i : i + chunk])
    opener.finish()
    return bytes(out)


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_sizes(size: int) -> None:
    data = os.urandom(size)
    _, stored = seal(data)
    assert len(stored) == sealed.stored_size(size) == HEADER + size + TAG * sealed.packages(size) + TRAILER
    assert sealed.plaintext_size(len(stored)) == size
    assert size < 64 or data[:64] not in stored  # never the plaintext (a byte or two may recur by chance)
    assert open_all(stored) == data


def test_trailer_holds_the_layout_and_the_plaintext_md5() -> None:
    data = os.urandom(2 * PACKAGE + 9)
    header, stored = seal(data, part=3)
    trailer = stored[-TRAILER:]
    assert sealed.trailer_header(trailer) == header
    assert sealed.open_trailer(AESGCM(KEY), trailer) == (header, hashlib.md5(data).digest())
    opener = Opener(KEY)
    assert opener.feed(stored) == data
    assert opener.md5s == [hashlib.md5(data).digest()]
    with pytest.raises(SealError):
        sealed.open_trailer(AESGCM(os.urandom(32)), trailer)


def test_segments_of_any_size_in_sequence() -> None:
    parts = [os.urandom(PACKAGE + 1), os.urandom(5), os.urandom(3 * PACKAGE - 7)]
    stored = b"".join(seal(p, i + 1)[1] for i, p in enumerate(parts))
    assert open_all(stored) == b"".join(parts)
    assert [sealed.plaintext_size(sealed.stored_size(len(p))) for p in parts] == list(map(len, parts))


def test_a_trailer_from_another_segment_fails() -> None:
    one, two = seal(b"a" * 100, part=1)[1], seal(b"a" * 100, part=1)[1]
    with pytest.raises(SealError):
        open_all(one[:-TRAILER] + two[-TRAILER:])


@pytest.mark.parametrize("stored", [0, 5, HEADER, HEADER + TRAILER, HEADER + TAG + PACKAGE + 1 + TRAILER])
def test_impossible_sizes(stored: int) -> None:
    with pytest.raises(SealError):
        sealed.plaintext_size(stored)


def read_range(header: Header, stored: bytes, first: int, last: int) -> bytes:
    """What the encrypt composite does for a ranged read of one segment."""
    index = sealed.locate(first, header)
    end = sealed.locate(last, header)
    lo = sealed.package_offset(index)
    hi = sealed.package_offset(end) + header.package_length(end) + TAG
    opener = Opener(KEY, start=(header, index))
    plain = bytes(opener.feed(stored[lo:hi]))
    opener.finish(partial=True)
    skip = first - index * PACKAGE
    return plain[skip : skip + last - first + 1]


@pytest.mark.parametrize(
    "first,last",
    [
        (0, 0),
        (0, PACKAGE - 1),
        (PACKAGE - 1, PACKAGE),
        (PACKAGE, PACKAGE),
        (PACKAGE, 2 * PACKAGE - 1),
        (2 * PACKAGE - 1, 3 * PACKAGE),
        (3 * PACKAGE, 3 * PACKAGE + 16),
        (1, 3 * PACKAGE + 16),
        (3 * PACKAGE + 16, 3 * PACKAGE + 16),
    ],
)
def test_every_range_boundary(first: int, last: int) -> None:
    data = os.urandom(3 * PACKAGE + 17)
    header, stored = seal(data)
    assert read_range(header, stored, first, last) == data[first : last + 1]


def tampered(stored: bytes) -> list[tuple[str, bytes]]:
    pkg = PACKAGE + TAG
    flip = bytearray(stored)
    flip[HEADER + PACKAGE + 3] ^= 1
    head = bytearray(stored)
    head[6] ^= 1
    swapped = stored[:HEADER] + stored[HEADER + pkg : HEADER + 2 * pkg] + stored[HEADER : HEADER + pkg]
    swapped += stored[HEADER + 2 * pkg :]
    return [
        ("flipped byte", bytes(flip)),
        ("flipped header", bytes(head)),
        ("truncated at a package boundary", stored[: HEADER + 2 * pkg]),
        ("truncated mid-package", stored[: HEADER + pkg + 100]),
        ("truncated tag", stored[:-1]),
        ("dropped final package", stored[: HEADER + 2 * pkg]),
        ("swapped packages", swapped),
        ("extra bytes", stored + b"x" * 40),
        ("dropped trailer", stored[:-TRAILER]),
        ("flipped trailer byte", stored[:-3] + bytes([stored[-3] ^ 1]) + stored[-2:]),
    ]


def test_tampering_is_an_error_never_plaintext() -> None:
    data = os.urandom(2 * PACKAGE + 500)
    _, stored = seal(data)
    for what, bad in tampered(stored):
        opener = Opener(KEY)
        with pytest.raises(SealError):
            served = bytes(opener.feed(bad))
            opener.finish()
            pytest.fail(f"{what}: served {len(served)} bytes")


def test_wrong_key_fails_on_the_first_package() -> None:
    _, stored = seal(b"secret" * 1000)
    with pytest.raises(SealError):
        Opener(os.urandom(32)).feed(stored)


def test_segments_out_of_order_fail() -> None:
    one = seal(b"a" * PACKAGE, part=1)[1]
    two = seal(b"b" * 10, part=2)[1]
    assert open_all(one + two) == b"a" * PACKAGE + b"b" * 10
    with pytest.raises(SealError):
        open_all(two + one)


def test_more_or_less_than_declared_is_refused() -> None:
    sealer = Sealer(KEY, Header(0, 10, bytes(12)))
    with pytest.raises(SealError):
        sealer.feed(b"x" * 11)
    short = Sealer(KEY, Header(0, 10, bytes(12)))
    short.feed(b"x" * 9)
    with pytest.raises(SealError):
        short.finish()


def test_nonces_differ_per_package_and_segment() -> None:
    a, b = Header(1, PACKAGE * 2, os.urandom(12)), Header(1, PACKAGE * 2, os.urandom(12))
    assert len({a.nonce(0), a.nonce(1), b.nonce(0), b.nonce(1)}) == 4
