"""The earlier stored format, ``s3b\\x01``, read so objects written by the previous release stay readable.

A v1 segment is the v2 one (``sealed``) without the trailer: the same 32-byte header (magic
``s3b\\x01``), then the packages, with the same nonces and additional data. So this module is only what
differs: a header that packs the v1 magic and takes no trailer's bytes, and an opener that closes a
segment after its final package. Authentication is the same as v2's: the header is bound into every
package, a package's index and final flag too, so tampering, reordering and truncation still fail.

What v1 lacks is what the trailer brings: no plaintext MD5 (a v1 object's ETag is the store's, as the
previous release answered) and no layout at the end (``manifest`` walks the headers forward from the
start instead: one small read per segment). Nothing writes v1 any more.
"""

from __future__ import annotations

from typing import ClassVar

from backends.composite import sealed

MAGIC = b"s3b\x01"


def stored_size(length: int) -> int:
    """Stored bytes of one v1 segment holding ``length`` plaintext bytes (no trailer)."""
    return sealed.HEADER + length + sealed.TAG * sealed.packages(length)


class Header(sealed.Header):
    """A v1 segment's header (frozen dataclass fields inherited; never equal to a v2 header)."""

    MAGIC: ClassVar[bytes] = MAGIC

    @property
    def stored_size(self) -> int:
        return stored_size(self.length)


class Opener(sealed.Opener):
    """Opens v1 segments: a segment ends with its final package."""

    header_type: ClassVar[type[sealed.Header]] = Header

    def _opened_all(self, h: sealed.Header) -> None:
        self._header = None
        self.segments += 1


def opener(
    header: sealed.Header,
    key: bytes,
    *,
    start: tuple[sealed.Header, int] | None = None,
    layout: list[sealed.Header] | None = None,
) -> sealed.Opener:
    """The opener of the format ``header`` is in (the first segment's, or the one ``start`` is in)."""
    return (Opener if isinstance(header, Header) else sealed.Opener)(key, start=start, layout=layout)
