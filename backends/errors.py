"""The error types every backend raises.

A backend translates its SDK's failures into these and nothing else, so the front end maps one closed
set of errors to S3 answers, whichever provider sits below. Each error keeps the store's own message in
``detail`` for the log; ``message`` is what a client may see.

Exceptions raised by a request body stream (a bad checksum, a cut-off upload) are not backend errors:
a backend lets them propagate unchanged, after removing whatever it had started to write.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every contract error; ``retryable`` tells composites and clients the failure may pass."""

    retryable: bool = False
    default_message: str = "The backend failed to complete the request."

    def __init__(self, message: str | None = None, *, detail: str | None = None, backend: str | None = None):
        self.message = message or self.default_message
        self.detail = detail
        self.backend = backend
        super().__init__(self.message)

    def __str__(self) -> str:  # the log wants the store's words too
        extra = f" ({self.detail})" if self.detail else ""
        where = f"[{self.backend}] " if self.backend else ""
        return f"{where}{type(self).__name__}: {self.message}{extra}"


class NoSuchBucket(BackendError):
    default_message = "The specified bucket does not exist."


class NoSuchKey(BackendError):
    default_message = "The specified key does not exist."


class NoSuchUpload(BackendError):
    default_message = (
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed."
    )


class BucketAlreadyExists(BackendError):
    default_message = "The requested bucket name is not available."


class BucketAlreadyOwnedByYou(BackendError):
    default_message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketNotEmpty(BackendError):
    default_message = "The bucket you tried to delete is not empty."


class InvalidBucketName(BackendError):
    default_message = "The specified bucket is not valid."


class InvalidKey(BackendError):
    """A key the store cannot hold (too long, or one that would escape the store's root)."""

    default_message = "The specified key is not valid."


class KeyTooLong(BackendError):
    default_message = "Your key is too long."


class InvalidPart(BackendError):
    default_message = (
        "One or more of the specified parts could not be found. The part may not have been uploaded, "
        "or the specified entity tag may not match the part's entity tag."
    )


class InvalidPartOrder(BackendError):
    default_message = "The list of parts was not in ascending order. Parts must be ordered by part number."


class EntityTooSmall(BackendError):
    default_message = "Your proposed upload is smaller than the minimum allowed object size."


class EntityTooLarge(BackendError):
    default_message = "Your proposed upload exceeds the maximum allowed object size."


class InvalidRange(BackendError):
    default_message = "The requested range is not satisfiable"

    def __init__(self, message: str | None = None, *, size: int | None = None, **kw: str | None):
        super().__init__(message, **kw)
        self.size = size


class PreconditionFailed(BackendError):
    default_message = "At least one of the pre-conditions you specified did not hold"


class ConditionalRequestConflict(BackendError):
    """Another conditional write on the same key was in progress (S3's 409): the client retries."""

    default_message = "A conditional request to this object is in progress; retry the request."


class NotModified(BackendError):
    default_message = "Not Modified"


class MethodNotAllowed(BackendError):
    """The operation cannot apply to this resource as configured (e.g. DeleteBucket on a routed view)."""

    default_message = "The specified method is not allowed against this resource."


class InvalidArgument(BackendError):
    default_message = "Invalid Argument"


class InvalidRequest(BackendError):
    """The request contradicts how the object is stored (e.g. SSE-C parameters missing or not applicable)."""

    default_message = "Invalid Request"


class IntegrityError(BackendError):
    """Stored bytes failed authentication (an encrypted object tampered with or truncated): never served."""

    default_message = "The stored object failed its integrity check."


class AccessDenied(BackendError):
    """The store refused our credentials or the operation: a configuration problem, not the client's."""

    default_message = "Access Denied"


class NotImplementedByBackend(BackendError):
    default_message = "A header or operation you provided implies functionality that is not implemented."


class SlowDown(BackendError):
    """The store asks us to slow down (throttling)."""

    retryable = True
    default_message = "Please reduce your request rate."


class BackendUnavailable(BackendError):
    """The store cannot be reached, timed out or answered 5xx: a client should retry."""

    retryable = True
    default_message = "The backend store is unavailable. Please try again."


class InternalBackendError(BackendError):
    """The store failed in a way we could not classify; kept retryable as S3's InternalError is."""

    retryable = True
    default_message = "We encountered an internal error. Please try again."


class NoSuchVersion(BackendError):
    default_message = "The specified version does not exist."


class DeleteMarkerCurrent(NoSuchKey):
    """The key's current version is a delete marker: S3's 404 NoSuchKey, saying so in its headers."""

    def __init__(
        self, version_id: str | None = None, *, detail: str | None = None, backend: str | None = None
    ):
        super().__init__(detail=detail, backend=backend)
        self.version_id = version_id


class DeleteMarkerVersion(MethodNotAllowed):
    """A read named a delete marker's version: S3's 405 MethodNotAllowed with the marker headers."""

    def __init__(
        self, version_id: str | None = None, *, detail: str | None = None, backend: str | None = None
    ):
        super().__init__(detail=detail, backend=backend)
        self.version_id = version_id


class ObjectLocked(AccessDenied):
    """The version is under Object Lock retention or legal hold: S3 answers 403 AccessDenied."""

    default_message = "Access Denied because object protected by object lock."


class InvalidBucketState(BackendError):
    default_message = "The request is not valid with the current state of the bucket."
