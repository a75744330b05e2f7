"""ETags as the contract carries them: no quotes, no surrounding blanks; a multipart ``-N`` kept."""

from __future__ import annotations


def strip_etag(value: str | None) -> str:
    """An ETag from a header or an XML element, as the contract carries it (None → '')."""
    return (value or "").strip().strip('"')


def normal_etag(value: str | None) -> str:
    """``strip_etag`` lowercased: hex ETags compared whatever case a client or store wrote them in."""
    return strip_etag(value).lower()
