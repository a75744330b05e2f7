"""Delete markers as the S3 family reports them on a read (pure): the store's ``<prefix>delete-marker``
and ``<prefix>version-id`` headers on a 404 (the key's latest version is a marker) or a 405 (a marker
named by its id). S3 and OBS in S3 mode use ``x-amz-``, OSS ``x-oss-``."""

from __future__ import annotations

from collections.abc import Mapping

from backends import errors as be


def delete_marker_error(
    status: int | None, headers: Mapping[str, str], prefix: str, detail: str, backend: str
) -> be.BackendError | None:
    """The contract error for a read that met a delete marker, or None when it did not."""
    if (headers.get(f"{prefix}delete-marker") or "").lower() != "true":
        return None
    version = headers.get(f"{prefix}version-id")
    if status == 404:
        return be.DeleteMarkerCurrent(version, detail=detail, backend=backend)
    if status == 405:
        return be.DeleteMarkerVersion(version, detail=detail, backend=backend)
    return None
