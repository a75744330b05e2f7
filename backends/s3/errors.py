"""minio-py and urllib3 failures → the contract's error types, by the S3 family's table
(``backends.wire.status``).

The store's own code and message go to ``detail`` (for the log), never the request's signature or our
credentials: an S3Error's message is the store's XML ``Message``, and urllib3 errors name only the URL,
which carries no secret (signatures travel in headers).
"""

from __future__ import annotations

import json

from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from urllib3.exceptions import HTTPError

from backends import errors as be
from backends.s3.wire import parse_content_range
from backends.wire import status as wire_status
from backends.wire.markers import delete_marker_error


def classify(code: str | None, status: int | None) -> type[be.BackendError]:
    """The S3 family's table; a 4xx the table does not name is a failure of ours to translate."""
    return wire_status.classify(code, status)


def _status(exc: MinioException) -> int | None:
    if isinstance(exc, S3Error):
        return int(exc.response.status) if exc.response is not None else None
    if isinstance(exc, ServerError):
        return exc.status_code
    if isinstance(exc, InvalidResponseError):
        code = getattr(exc, "_code", None)
        return int(code) if isinstance(code, int) else None
    return None


def _json_code(exc: InvalidResponseError) -> str | None:
    """The ``Code`` of an error a store sent as JSON instead of XML (Ceph RGW does for some refusals)."""
    body = getattr(exc, "_body", None)
    if not isinstance(body, str) or not body.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    code = parsed.get("Code") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) and code else None


def _short(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters: stores may answer errors with whole HTML pages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def map_error(exc: BaseException, backend: str) -> BaseException:
    """The contract error for an SDK/transport failure; contract errors and others pass through."""
    if isinstance(exc, be.BackendError):
        return exc
    if isinstance(exc, S3Error):
        status = _status(exc)
        kind = classify(exc.code, status)
        detail = _short(f"{exc.code} (HTTP {status}): {exc.message or ''}".strip())
        headers = exc.response.headers if exc.response is not None else {}
        marker = delete_marker_error(status, headers, "x-amz-", detail, backend)
        if marker is not None:
            return marker
        if kind is be.InvalidRange:
            _, size = parse_content_range(exc.response.headers.get("Content-Range") if exc.response else None)
            return be.InvalidRange(detail=detail, backend=backend, size=size)
        return kind(detail=detail, backend=backend)
    if isinstance(exc, MinioException):
        status = _status(exc)
        code = _json_code(exc) if isinstance(exc, InvalidResponseError) else None
        return classify(code, status)(detail=_short(f"HTTP {status}: {exc}"), backend=backend)
    if isinstance(exc, (HTTPError, OSError)):
        return be.BackendUnavailable(detail=f"{type(exc).__name__}: {exc}", backend=backend)
    return exc
