"""S3's flexible checksums: the five algorithms, and how multipart uploads combine part checksums.

CRCs come from awscrt (the library the AWS SDKs use), SHA from hashlib. S3 reports a multipart object's
checksum either as COMPOSITE (a checksum of the parts' binary checksums, suffixed ``-N``) or, for the
CRC algorithms only, as FULL_OBJECT (the CRC of the whole object, which CRC algebra derives from the
parts' CRCs and lengths without reading the data again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from typing import Literal

from awscrt import checksums as crt

Algorithm = Literal["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]

#: every algorithm S3 knows, in the lowercase spelling of the ``x-amz-checksum-<alg>`` headers.
ALGORITHMS: tuple[Algorithm, ...] = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")

#: digest size in bytes; a checksum value must decode to exactly this many bytes.
DIGEST_SIZE: dict[str, int] = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32}

_CRC: dict[str, Callable[[bytes, int], int]] = {
    "crc32": crt.crc32,
    "crc32c": crt.crc32c,
    "crc64nvme": crt.crc64nvme,
}
_CRC_COMBINE: dict[str, Callable[[int, int, int], int]] = {
    "crc32": crt.combine_crc32,
    "crc32c": crt.combine_crc32c,
    "crc64nvme": crt.combine_crc64nvme,
}


def normalize_algorithm(name: str) -> Algorithm | None:
    """``CRC32``/``crc32``/``x-amz-checksum-crc32`` → ``crc32``; None for anything S3 does not define."""
    value = name.strip().lower()
    if value.startswith("x-amz-checksum-"):
        value = value[len("x-amz-checksum-") :]
    for alg in ALGORITHMS:
        if value == alg:
            return alg
    return None


def display_name(alg: str) -> str:
    """The spelling S3 uses in messages and XML element names (``CRC32C``, ``SHA256``)."""
    return alg.upper()


class Checksummer:
    """A running checksum of one algorithm; feed it the object's bytes as they stream past."""

    def __init__(self, alg: str):
        found = normalize_algorithm(alg)
        if found is None:
            raise ValueError(f"unknown checksum algorithm {alg!r}")
        self.alg: Algorithm = found
        self._crc_fn = _CRC.get(found)
        self._crc = 0
        self._hash = None if self._crc_fn is not None else hashlib.new(found)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._crc_fn is not None:
            self._crc = self._crc_fn(data, self._crc)  # type: ignore[arg-type]
        elif self._hash is not None:
            self._hash.update(data)

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(DIGEST_SIZE[self.alg], "big")

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


def decode_checksum(alg: str, value_b64: str) -> bytes | None:
    """The raw digest a client sent, or None when it is not valid base64 of the algorithm's size."""
    try:
        raw = base64.b64decode(value_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == DIGEST_SIZE[alg] else None


def _require(alg: str, value_b64: str) -> bytes:
    raw = decode_checksum(alg, value_b64)
    if raw is None:
        raise ValueError(f"invalid {display_name(alg)} checksum value {value_b64!r}")
    return raw


def combine_composite(alg: str, part_checksums_b64: Sequence[str]) -> str:
    """S3's COMPOSITE checksum: the checksum of the concatenated binary part checksums, then ``-N``."""
    checker = Checksummer(alg)
    for value in part_checksums_b64:
        checker.update(_require(checker.alg, value))
    return f"{checker.b64digest()}-{len(part_checksums_b64)}"


def combine_full_object(alg: str, parts: Sequence[tuple[str, int]]) -> str:
    """The FULL_OBJECT CRC of an object from its parts' ``(crc_b64, length)``, in part order."""
    found = normalize_algorithm(alg)
    if found is None or found not in _CRC_COMBINE:
        raise ValueError(f"FULL_OBJECT checksums exist only for CRC algorithms, not {alg!r}")
    combine = _CRC_COMBINE[found]
    total = 0
    for index, (value, length) in enumerate(parts):
        crc = int.from_bytes(_require(found, value), "big")
        total = crc if index == 0 else combine(total, crc, length)
    return base64.b64encode(total.to_bytes(DIGEST_SIZE[found], "big")).decode("ascii")
