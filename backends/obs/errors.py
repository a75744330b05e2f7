"""esdk-obs-python failures → contract errors.

The SDK answers most failures with a result (``status``, ``errorCode``, ``errorMessage``) instead of an
exception, so every call's result is checked here; what it does raise (sockets, timeouts, its own
assertions) is translated too. The store's words go to ``detail``; credentials never do.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any

from backends import errors as be
from backends.obs.wire import raw_headers
from backends.wire.markers import delete_marker_error
from backends.wire.status import classify

#: Header prefixes of the store's delete-marker headers: native OBS, and OBS (or S3) in S3 mode.
MARKER_PREFIXES = ("x-obs-", "x-amz-")


def result_error(
    result: Any, backend: str, *, not_found: type[be.BackendError] = be.NoSuchKey
) -> be.BackendError | None:
    """The contract error a result stands for, or None when it succeeded.

    ``not_found`` is what a bare 404 (HEAD answers carry no body, so no code) means for the operation.
    """
    status = int(getattr(result, "status", 0) or 0)
    if 0 < status < 300:
        return None
    code = getattr(result, "errorCode", None) or ""
    message = getattr(result, "errorMessage", None) or getattr(result, "reason", None) or ""
    request_id = getattr(result, "requestId", None)
    detail = f"HTTP {status} {code}: {message}".rstrip(": ")
    if request_id:
        detail += f" (request id {request_id})"
    headers = raw_headers(result)
    for prefix in MARKER_PREFIXES:  # a read that met a delete marker says so in its headers
        marker = delete_marker_error(status, headers, prefix, detail, backend)
        if marker is not None:
            return marker
    # OBS answers with the S3 family's codes (``backends.wire.status``); a 4xx without one is a refusal
    # of the request's arguments.
    cls = classify(code, status, missing=not_found, refused=be.InvalidArgument)
    if cls is be.AccessDenied:
        detail = f"the OBS store behind backend {backend!r} refused its credentials or request: {detail}"
    return cls(detail=detail, backend=backend)


def check(result: Any, backend: str, *, not_found: type[be.BackendError] = be.NoSuchKey) -> Any:
    """Return ``result`` when it succeeded, raise its contract error otherwise."""
    error = result_error(result, backend, not_found=not_found)
    if error is not None:
        raise error
    return result


def from_exception(exc: BaseException, backend: str) -> be.BackendError:
    """A contract error for an exception the SDK raised (after its own retries, if any)."""
    if isinstance(exc, be.BackendError):
        return exc
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return be.BackendUnavailable(detail=f"TLS verification failed: {detail}", backend=backend)
    if isinstance(exc, (OSError, socket.timeout, TimeoutError, http.client.HTTPException)):
        return be.BackendUnavailable(detail=detail, backend=backend)
    return be.InternalBackendError(detail=detail, backend=backend)
