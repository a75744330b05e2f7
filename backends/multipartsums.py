"""The checksums of a completed multipart object, from its parts' stored checksums (pure).

S3 answers a multipart object's checksum as the upload asked at creation: an algorithm and COMPOSITE
(checksum of the parts' checksums, ``-N``) or FULL_OBJECT (the CRC of the whole object, derived from the
parts' CRCs and sizes). Shared by every backend that assembles parts itself or keeps their checksums in
records (fs, and the s3/oss/obs record store), so the rule lives once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from backends.base import CompletedPart
from backends.errors import InvalidPart
from backends.wire.checksums import ALGORITHMS, combine_composite, combine_full_object

#: One stored part: its size and its checksums (algorithm → base64).
StoredPart = tuple[int, Mapping[str, str]]


def multipart_checksums(
    stored: Sequence[StoredPart],
    requested: Sequence[str],
    kind: str | None,
    given: Sequence[CompletedPart],
) -> tuple[dict[str, str], str | None]:
    """The whole object's checksums and their type: ``requested`` algorithms (or, when the upload asked
    for none, every algorithm all parts carry) combined as ``kind`` (COMPOSITE when None).

    A part checksum the client names in CompleteMultipartUpload must match the stored one (InvalidPart),
    and so must every part carry an algorithm the upload asked for.
    """
    sums = [s for _, s in stored]
    for part, have in zip(given, sums, strict=True):
        for alg, value in part.checksums.items():
            if have.get(alg) != value:
                raise InvalidPart(detail=f"part {part.part_number}: the {alg} checksum does not match")
    kind = kind or "COMPOSITE"
    wanted = list(requested) or [a for a in ALGORITHMS if sums and all(a in s for s in sums)]
    out: dict[str, str] = {}
    for alg in wanted:
        if not all(alg in s for s in sums):
            raise InvalidPart(detail=f"the upload asked for {alg} checksums, and a part has none")
        if kind == "FULL_OBJECT":
            out[alg] = combine_full_object(alg, [(s[alg], size) for size, s in stored])
        else:
            out[alg] = combine_composite(alg, [s[alg] for s in sums])
    return out, (kind if out else None)
