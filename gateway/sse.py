"""S3's server-side encryption headers, both ways (pure code).

Used only for a bucket whose backend encrypts (``Capabilities.encryption``, the ``encrypt`` composite);
on any other bucket the same headers are refused by ``gateway.unsupported`` before they get here.

Which SSE-C headers name which key depends on the operation: GetObject and HeadObject name the key of
the object read; PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload the key of the
object written; CopyObject and UploadPartCopy both, the source's in the ``x-amz-copy-source-`` headers.
Invalid headers get AWS's answers: InvalidArgument for a missing, malformed or mismatched key, MD5 or
algorithm, InvalidEncryptionAlgorithmError for an SSE-C algorithm other than AES256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from backends.sse import AES256, CustomerKey, Encryption, SseRequest
from gateway.errors import S3Error

SSE = "x-amz-server-side-encryption"
_CUSTOMER = "server-side-encryption-customer-"

#: Operations whose response says how the object they wrote is encrypted.
WRITES = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
    }
)
_READS = frozenset({"GetObject", "HeadObject"})
_COPIES = frozenset({"CopyObject", "UploadPartCopy"})


def _invalid(message: str, name: str, value: str | None = None) -> S3Error:
    if value is None:
        return S3Error("InvalidArgument", message, ArgumentName=name)
    return S3Error("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)


def customer_key(headers: Mapping[str, str], source: bool = False) -> CustomerKey | None:
    """The SSE-C key of ``x-amz-[copy-source-]server-side-encryption-customer-*``, checked; None when
    none of the three headers is there."""
    prefix = "x-amz-" + ("copy-source-" if source else "") + _CUSTOMER
    algorithm = headers.get(prefix + "algorithm")
    key = headers.get(prefix + "key")
    md5 = headers.get(prefix + "key-md5")
    if algorithm is None and key is None and md5 is None:
        return None
    what = "Requests specifying Server Side Encryption with Customer provided keys must provide"
    if algorithm is None:
        raise _invalid(f"{what} a valid encryption algorithm.", prefix + "algorithm")
    if algorithm != AES256:
        raise S3Error(
            "InvalidEncryptionAlgorithmError",
            "The Encryption request you specified is not valid. Supported value: AES256.",
            ArgumentName=prefix + "algorithm",
            ArgumentValue=algorithm,
        )
    if key is None:
        raise _invalid(f"{what} an appropriate secret key.", prefix + "key")
    if md5 is None:
        raise _invalid(f"{what} the client calculated MD5 of the secret key.", prefix + "key-md5")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The secret key was invalid for the specified algorithm.", prefix + "key") from None
    if len(raw) != 32:
        raise _invalid("The secret key was invalid for the specified algorithm.", prefix + "key")
    if base64.b64encode(hashlib.md5(raw).digest()).decode("ascii") != md5.strip():
        raise _invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.", prefix + "key"
        )
    return CustomerKey.of(raw)


def request_for(operation: str, headers: Mapping[str, str], *, secure: bool) -> SseRequest:
    """The SSE request of one operation on an encrypting bucket; S3's error for invalid headers."""
    sse = headers.get(SSE)
    if sse is not None and sse != AES256:  # aws:kms is refused earlier (gateway.unsupported)
        raise _invalid("The encryption method specified is not supported", SSE, sse)
    if operation in _READS:
        return SseRequest(read_key=customer_key(headers), secure=secure)
    write_key = customer_key(headers)
    if write_key is not None and sse is not None:
        raise _invalid(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            SSE,
            sse,
        )
    read_key = customer_key(headers, source=True) if operation in _COPIES else None
    return SseRequest(write_key=write_key, read_key=read_key, secure=secure)


def answer_headers(encryption: Encryption | None) -> dict[str, str]:
    """The response headers saying how an object is encrypted (none for one stored in plaintext)."""
    if encryption is None:
        return {}
    if encryption.customer_key_md5 is None:
        return {SSE: encryption.algorithm}
    return {
        "x-amz-" + _CUSTOMER + "algorithm": encryption.algorithm,
        "x-amz-" + _CUSTOMER + "key-MD5": encryption.customer_key_md5,
    }


def written(request: SseRequest) -> Encryption:
    """How an object written through an encrypting backend with ``request`` is encrypted."""
    return Encryption(request.write_key.md5 if request.write_key is not None else None)


def changes_encryption(headers: Mapping[str, str]) -> bool:
    """A CopyObject onto its own source is allowed when it asks for encryption (S3 re-encrypts it)."""
    return SSE in headers or f"x-amz-{_CUSTOMER}algorithm" in headers
