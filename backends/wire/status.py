"""Which contract error a store's failure is: one table for the S3 family's error codes (S3, MinIO,
OSS, OBS all answer with them, plus a few of their own), and one for the HTTP statuses that say it when
no code does (HEAD answers carry no body).

Each provider maps from here and keeps only what is its own: how its SDK reports a failure, what a
bare 404 means for the call at hand, and the words it adds to the detail.
"""

from __future__ import annotations

from backends import errors as be

#: Error codes with a contract counterpart; a code not listed is classified by HTTP status.
BY_CODE: dict[str, type[be.BackendError]] = {
    "NoSuchKey": be.NoSuchKey,
    "NoSuchBucket": be.NoSuchBucket,
    "NoSuchUpload": be.NoSuchUpload,
    "NoSuchVersion": be.NoSuchVersion,
    "BucketNotEmpty": be.BucketNotEmpty,
    "BucketAlreadyOwnedByYou": be.BucketAlreadyOwnedByYou,
    "BucketAlreadyExists": be.BucketAlreadyExists,
    "InvalidBucketName": be.InvalidBucketName,
    "InvalidObjectName": be.InvalidKey,  # OSS
    "KeyTooLongError": be.KeyTooLong,
    "KeyTooLong": be.KeyTooLong,  # OSS
    "InvalidPart": be.InvalidPart,
    "InvalidPartOrder": be.InvalidPartOrder,
    "EntityTooSmall": be.EntityTooSmall,
    "EntityTooLarge": be.EntityTooLarge,
    "InvalidRange": be.InvalidRange,
    "PreconditionFailed": be.PreconditionFailed,
    "FileAlreadyExists": be.PreconditionFailed,  # OSS: x-oss-forbid-overwrite
    "ConditionalRequestConflict": be.ConditionalRequestConflict,
    "NotModified": be.NotModified,
    "InvalidArgument": be.InvalidArgument,
    "InvalidRequest": be.InvalidArgument,
    "InvalidStorageClass": be.InvalidArgument,
    "MetadataTooLarge": be.InvalidArgument,
    "InvalidDigest": be.InvalidArgument,
    "MalformedXML": be.InvalidArgument,
    "InvalidEncodingType": be.InvalidArgument,
    "NotImplemented": be.NotImplementedByBackend,
    "InvalidBucketState": be.InvalidBucketState,
    "RequestTimeout": be.BackendUnavailable,
    "InternalError": be.BackendUnavailable,
}

#: Codes meaning the store refused our credentials or request: the operator's problem, not the client's.
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "AllAccessDisabled",
        "RequestTimeTooSkewed",
        "InvalidSecurity",  # OBS
        "InvalidSecurityToken",  # OSS
        "SecurityTokenExpired",  # OSS
        "AccessForbidden",  # OSS
        "UserDisable",  # OSS
    }
)
#: Codes asking us to slow down. (S3's ServiceUnavailable comes with 503, which says SlowDown below; OSS
#: means an outage by it.)
THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "TooManyRequests",
        "QpsLimitExceeded",
        "RequestRateExceeded",
        "UploadTrafficRateLimitExceeded",
        "DownloadTrafficRateLimitExceeded",
        "ServerBusy",
    }
)
BY_CODE.update(dict.fromkeys(ACCESS_CODES, be.AccessDenied))
BY_CODE.update(dict.fromkeys(THROTTLE_CODES, be.SlowDown))

#: Statuses that say what happened when the code does not.
BY_STATUS: dict[int, type[be.BackendError]] = {
    304: be.NotModified,
    403: be.AccessDenied,
    404: be.NoSuchKey,  # a bare 404 of an object request; a caller may say otherwise (``missing``)
    412: be.PreconditionFailed,
    416: be.InvalidRange,
    429: be.SlowDown,
    501: be.NotImplementedByBackend,
    503: be.SlowDown,
}


def classify(
    code: str | None,
    status: int | None,
    *,
    missing: type[be.BackendError] = be.NoSuchKey,
    refused: type[be.BackendError] = be.InternalBackendError,
) -> type[be.BackendError]:
    """The contract error for a store's (code, HTTP status).

    ``missing`` is what a bare 404 means for the call (NoSuchBucket for a bucket call); ``refused`` what
    another 4xx without a known code means for this provider (a store's refusal we cannot name).
    """
    if code and code in BY_CODE:
        return BY_CODE[code]
    if status is None:
        return be.InternalBackendError
    if status == 404:
        return missing
    if status in BY_STATUS:
        return BY_STATUS[status]
    if status >= 500:
        return be.BackendUnavailable
    if 400 <= status < 500:
        return refused
    return be.InternalBackendError
