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

#: OBS / S3 error codes whose meaning is the same contract error whatever the operation.
_BY_CODE: dict[str, type[be.BackendError]] = {
    "NoSuchBucket": be.NoSuchBucket,
    "NoSuchKey": be.NoSuchKey,
    "NoSuchUpload": be.NoSuchUpload,
    "BucketAlreadyExists": be.BucketAlreadyExists,
    "BucketAlreadyOwnedByYou": be.BucketAlreadyOwnedByYou,
    "BucketNotEmpty": be.BucketNotEmpty,
    "InvalidBucketName": be.InvalidBucketName,
    "KeyTooLongError": be.KeyTooLong,
    "InvalidPart": be.InvalidPart,
    "InvalidPartOrder": be.InvalidPartOrder,
    "EntityTooSmall": be.EntityTooSmall,
    "EntityTooLarge": be.EntityTooLarge,
    "InvalidRange": be.InvalidRange,
    "PreconditionFailed": be.PreconditionFailed,
    "NotModified": be.NotModified,
    "InvalidArgument": be.InvalidArgument,
    "InvalidRequest": be.InvalidArgument,
    "NotImplemented": be.NotImplementedByBackend,
    "SlowDown": be.SlowDown,
    "ServiceUnavailable": be.SlowDown,
    "InternalError": be.BackendUnavailable,
    # our credentials or clock are wrong: the operator's problem, reported as AccessDenied
    "AccessDenied": be.AccessDenied,
    "SignatureDoesNotMatch": be.AccessDenied,
    "InvalidAccessKeyId": be.AccessDenied,
    "RequestTimeTooSkewed": be.AccessDenied,
    "ExpiredToken": be.AccessDenied,
    "InvalidToken": be.AccessDenied,
    "InvalidSecurity": be.AccessDenied,
}

_BY_STATUS: dict[int, type[be.BackendError]] = {
    304: be.NotModified,
    403: be.AccessDenied,
    412: be.PreconditionFailed,
    416: be.InvalidRange,
    503: be.SlowDown,
}


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
    cls = _BY_CODE.get(code)
    if cls is None:
        if status == 404:
            cls = not_found
        elif status in _BY_STATUS:
            cls = _BY_STATUS[status]
        elif status >= 500:
            cls = be.BackendUnavailable
        elif 400 <= status < 500:
            cls = be.InvalidArgument
        else:
            cls = be.InternalBackendError
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
