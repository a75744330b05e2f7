"""The one table of S3 errors: code → (HTTP status, AWS's message), and the exception that carries one.

Everything that refuses a request raises ``S3Error(code)``; the app turns it into the XML body AWS sends
(Code, Message, Resource, RequestId). Backend contract errors map onto this table in ``from_backend``.
"""

from __future__ import annotations

from backends import errors as be

#: code → (status, default message), as AWS documents them.
S3_ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AccessControlListNotSupported": (400, "The bucket does not allow ACLs"),
    #: A CORS preflight (OPTIONS) that no rule of the bucket allows.
    "AccessForbidden": (403, "CORSResponse: This CORS request is not allowed."),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    #: The HTTP request itself could not be parsed (answered by the connection layer, gateway.connection).
    "BadRequest": (400, "An error occurred when parsing the HTTP request."),
    "AuthorizationQueryParametersError": (400, "Error parsing the X-Amz-Credential parameter."),
    "BadDigest": (
        400,
        "The Content-MD5 or checksum value that you specified did not match what the server received.",
    ),
    "BucketAlreadyExists": (409, "The requested bucket name is not available."),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "ExpiredToken": (400, "The provided token has expired."),
    "IncompleteBody": (
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (403, "The AWS Access Key Id you provided does not exist in our records."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    #: POST object (browser form uploads, gateway.ops.post).
    "IncorrectNumberOfFilesInPostRequest": (400, "POST requires exactly one file upload per request."),
    "InvalidPolicyDocument": (
        400,
        "The content of the form does not meet the conditions specified in the policy document.",
    ),
    "MalformedPOSTRequest": (
        400,
        "The body of your POST request is not well-formed multipart/form-data.",
    ),
    "MaxPostPreDataLengthExceededError": (
        400,
        "Your POST request fields preceding the upload file were too large.",
    ),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, "
        "or the specified entity tag may not match the part's entity tag.",
    ),
    "InvalidPartOrder": (
        400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    ),
    "InvalidPartNumber": (416, "The requested partnumber is not satisfiable"),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidStorageClass": (400, "The storage class you specified is not valid"),
    "InvalidTag": (
        400,
        "The tag provided was not a valid tag. This error can occur if the tag did not pass input validation.",
    ),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedTrailerError": (
        400,
        "The request contained trailing data that was not well-formed or did not conform to our published "
        "schema.",
    ),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingSecurityHeader": (400, "Your request is missing a required header."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchUpload": (
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
    ),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist"),
    "NoSuchLifecycleConfiguration": (404, "The lifecycle configuration does not exist"),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist"),
    "NoSuchTagSet": (404, "The TagSet does not exist"),
    "ServerSideEncryptionConfigurationNotFoundError": (
        404,
        "The server side encryption configuration was not found",
    ),
    "InvalidEncryptionAlgorithmError": (
        400,
        "The encryption request you specified is not valid. The valid value is AES256.",
    ),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented."),
    "NotModified": (304, "Not Modified"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "ConditionalRequestConflict": (
        409,
        "The conditional request cannot succeed due to a conflicting operation against this resource.",
    ),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the server's time is too large.",
    ),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    ),
    "ServiceUnavailable": (503, "Please reduce your request rate."),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "SlowDown": (503, "Please reduce your request rate."),
    "XAmzContentSHA256Mismatch": (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
    "InvalidObjectState": (403, "The operation is not valid for the current state of the object."),
    # versioning and Object Lock
    "NoSuchVersion": (404, "The specified version does not exist."),
    "IllegalVersioningConfigurationException": (
        400,
        "The Versioning element must be specified",
    ),
    "InvalidBucketState": (409, "The request is not valid with the current state of the bucket."),
    "ObjectLockConfigurationNotFoundError": (404, "Object Lock configuration does not exist for this bucket"),
    "NoSuchObjectLockConfiguration": (404, "The specified object does not have a ObjectLock configuration"),
    # access control (gateway.acl, gateway.bucketpolicy, gateway.ops.access)
    "MalformedACLError": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    ),
    "UnresolvableGrantByEmailAddress": (
        400,
        "The email address you provided does not match any account on record.",
    ),
    "UnexpectedContent": (400, "This request does not support content."),
    "MalformedPolicy": (400, "Policies must be valid JSON and the first byte must be '{'"),
    "NoSuchPublicAccessBlockConfiguration": (404, "The public access block configuration was not found"),
    "OwnershipControlsNotFoundError": (404, "The bucket ownership controls were not found"),
    "InvalidBucketAclWithObjectOwnership": (
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    ),
}


class S3Error(Exception):
    """An S3 error answer. ``extra`` adds elements to the XML body (e.g. ``Key``, ``UploadId``)."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: str,
    ):
        if code not in S3_ERRORS:
            raise KeyError(f"unknown S3 error code {code!r}")
        default_status, default_message = S3_ERRORS[code]
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.headers = headers or {}
        self.extra = extra
        super().__init__(f"{code}: {self.message}")


#: contract error type → S3 code. Subclasses not listed fall back along the MRO.
_BACKEND_TO_S3: dict[type[be.BackendError], str] = {
    be.NoSuchBucket: "NoSuchBucket",
    be.NoSuchKey: "NoSuchKey",
    be.NoSuchUpload: "NoSuchUpload",
    be.BucketAlreadyExists: "BucketAlreadyExists",
    be.BucketAlreadyOwnedByYou: "BucketAlreadyOwnedByYou",
    be.BucketNotEmpty: "BucketNotEmpty",
    be.InvalidBucketName: "InvalidBucketName",
    be.InvalidKey: "InvalidArgument",
    be.KeyTooLong: "KeyTooLongError",
    be.InvalidPart: "InvalidPart",
    be.InvalidPartOrder: "InvalidPartOrder",
    be.EntityTooSmall: "EntityTooSmall",
    be.EntityTooLarge: "EntityTooLarge",
    be.InvalidRange: "InvalidRange",
    be.PreconditionFailed: "PreconditionFailed",
    be.ConditionalRequestConflict: "ConditionalRequestConflict",
    be.NotModified: "NotModified",
    be.InvalidArgument: "InvalidArgument",
    be.MethodNotAllowed: "MethodNotAllowed",
    be.AccessDenied: "AccessDenied",
    be.NotImplementedByBackend: "NotImplemented",
    be.SlowDown: "SlowDown",
    be.BackendUnavailable: "ServiceUnavailable",
    be.InternalBackendError: "InternalError",
    be.NoSuchVersion: "NoSuchVersion",
    be.InvalidBucketState: "InvalidBucketState",
    be.InvalidRequest: "InvalidRequest",
    be.IntegrityError: "InternalError",
}


def from_backend(exc: be.BackendError) -> S3Error:
    """The S3 answer for a contract error; the store's detail stays out of the client's view."""
    for cls in type(exc).__mro__:
        code = _BACKEND_TO_S3.get(cls)  # type: ignore[arg-type]
        if code is not None:
            break
    else:
        code = "InternalError"
    headers: dict[str, str] = {}
    if isinstance(exc, be.InvalidRange) and exc.size is not None:
        headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, (be.DeleteMarkerCurrent, be.DeleteMarkerVersion)):
        headers["x-amz-delete-marker"] = "true"
        if exc.version_id is not None:
            headers["x-amz-version-id"] = exc.version_id
    if code in ("SlowDown", "ServiceUnavailable"):
        headers["Retry-After"] = "1"
    hidden = code in ("InternalError", "AccessDenied") and not isinstance(exc, be.ObjectLocked)
    message = None if hidden else exc.message
    return S3Error(code, message, headers=headers)
