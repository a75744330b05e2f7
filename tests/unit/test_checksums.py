"""Checksums against known vectors and independent references (zlib, a bitwise CRC)."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest

from backends.wire.checksums import (
    Checksummer,
    combine_composite,
    combine_full_object,
    decode_checksum,
    normalize_algorithm,
)


def b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def bitwise_crc(data: bytes, poly_reflected: int, width: int) -> int:
    """Textbook reflected CRC with all-ones init and final xor: the reference the library must match."""
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (poly_reflected if crc & 1 else 0)
    return crc ^ mask


REFERENCE = {
    "crc32": (0xEDB88320, 32),
    "crc32c": (0x82F63B78, 32),
    "crc64nvme": (0x9A6C9329AC4BC9B5, 64),
}


@pytest.mark.parametrize(
    ("alg", "data", "expected"),
    [
        ("crc32", b"hello world", "DUoRhQ=="),
        ("crc32c", b"hello world", "yZRlqg=="),
        ("sha1", b"hello world", "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        ("sha256", b"hello world", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
        ("crc32", b"123456789", b64(0xCBF43926, 4)),  # the catalogue check values
        ("crc32c", b"123456789", b64(0xE3069283, 4)),
        ("crc64nvme", b"123456789", b64(0xAE8B14860A799888, 8)),
        ("crc32", b"", "AAAAAA=="),
        ("crc64nvme", b"", "AAAAAAAAAAA="),
    ],
)
def test_known_vectors(alg: str, data: bytes, expected: str) -> None:
    whole = Checksummer(alg)
    whole.update(data)
    assert whole.b64digest() == expected
    split = Checksummer(alg.upper())
    for i in range(len(data)):
        split.update(data[i : i + 1])
    assert split.b64digest() == expected


@pytest.mark.parametrize("alg", sorted(REFERENCE))
def test_crcs_match_bitwise_reference(alg: str) -> None:
    data = os.urandom(3000)
    poly, width = REFERENCE[alg]
    checker = Checksummer(alg)
    checker.update(memoryview(data)[:1000])
    checker.update(bytearray(data[1000:]))
    assert checker.digest() == bitwise_crc(data, poly, width).to_bytes(width // 8, "big")


def test_composite_is_checksum_of_part_checksums() -> None:
    parts = [os.urandom(1000), os.urandom(2000), b"tail"]
    part_b64 = [b64(zlib.crc32(p), 4) for p in parts]
    raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    assert combine_composite("crc32", part_b64) == f"{b64(zlib.crc32(raw), 4)}-3"
    sha_parts = [base64.b64encode(hashlib.sha256(p).digest()).decode() for p in parts]
    expected = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest())
    assert combine_composite("SHA256", sha_parts) == f"{expected.decode()}-3"
    with pytest.raises(ValueError):
        combine_composite("crc32", ["not-base64!"])


@pytest.mark.parametrize("alg", ["crc32", "crc32c", "crc64nvme"])
def test_full_object_combination(alg: str) -> None:
    parts = [os.urandom(5000), os.urandom(1), b"", os.urandom(70000)]
    pieces = []
    for part in parts:
        checker = Checksummer(alg)
        checker.update(part)
        pieces.append((checker.b64digest(), len(part)))
    whole = Checksummer(alg)
    whole.update(b"".join(parts))
    assert combine_full_object(alg, pieces) == whole.b64digest()
    if alg == "crc32":
        assert combine_full_object(alg, pieces) == b64(zlib.crc32(b"".join(parts)), 4)


def test_full_object_only_for_crcs() -> None:
    with pytest.raises(ValueError):
        combine_full_object("sha256", [])


def test_names_and_decoding() -> None:
    assert normalize_algorithm("CRC64NVME") == "crc64nvme"
    assert normalize_algorithm("x-amz-checksum-sha1") == "sha1"
    assert normalize_algorithm("md5") is None
    assert normalize_algorithm("x-amz-checksum-mode") is None
    assert decode_checksum("crc32", "DUoRhQ==") == bytes.fromhex("0d4a1185")
    assert decode_checksum("crc32", "AAAAAAAAAAA=") is None  # wrong size
    assert decode_checksum("sha1", "!!!") is None
    with pytest.raises(ValueError):
        Checksummer("md5")
