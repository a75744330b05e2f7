"""S3's SSE headers → the backend's SSE request, and answers, alone (gateway.sse)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from backends.sse import CustomerKey, Encryption
from gateway import sse
from gateway.errors import S3Error

KEY, SOURCE = bytes(range(32)), bytes(range(32, 64))


def headers(key: bytes, prefix: str = "x-amz-") -> dict[str, str]:
    return {
        f"{prefix}server-side-encryption-customer-algorithm": "AES256",
        f"{prefix}server-side-encryption-customer-key": base64.b64encode(key).decode(),
        f"{prefix}server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(key).digest()
        ).decode(),
    }


BOTH = {**headers(KEY), **headers(SOURCE, "x-amz-copy-source-")}


@pytest.mark.parametrize(
    ("operation", "write", "read"),
    [
        ("GetObject", None, KEY),
        ("HeadObject", None, KEY),
        ("PutObject", KEY, None),
        ("UploadPart", KEY, None),
        ("CompleteMultipartUpload", KEY, None),
        ("CopyObject", KEY, SOURCE),
        ("UploadPartCopy", KEY, SOURCE),
    ],
)
def test_which_key_is_which(operation: str, write: bytes | None, read: bytes | None) -> None:
    request = sse.request_for(operation, BOTH, secure=False)
    assert (request.write_key, request.read_key, request.secure) == (
        CustomerKey.of(write) if write else None,
        CustomerKey.of(read) if read else None,
        False,
    )


def test_no_headers_is_sse_s3() -> None:
    request = sse.request_for("PutObject", {}, secure=True)
    assert request.write_key is None and sse.written(request) == Encryption()
    assert sse.answer_headers(sse.written(request)) == {"x-amz-server-side-encryption": "AES256"}
    md5 = CustomerKey.of(KEY).md5
    assert sse.answer_headers(Encryption(md5)) == {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key-MD5": md5,
    }
    assert sse.answer_headers(None) == {}


@pytest.mark.parametrize(
    ("changes", "code", "argument"),
    [
        ({"x-amz-server-side-encryption-customer-key": "%%%"}, "InvalidArgument", "key"),
        (
            {"x-amz-server-side-encryption-customer-key": base64.b64encode(b"x" * 16).decode()},
            "InvalidArgument",
            "key",
        ),
        ({"x-amz-server-side-encryption-customer-key-md5": "AAAA"}, "InvalidArgument", "key"),
        (
            {"x-amz-server-side-encryption-customer-algorithm": "aws:kms"},
            "InvalidEncryptionAlgorithmError",
            "algorithm",
        ),
    ],
    ids=["not-base64", "16-bytes", "md5-mismatch", "algorithm"],
)
def test_invalid_customer_keys(changes: dict[str, str], code: str, argument: str) -> None:
    with pytest.raises(S3Error) as err:
        sse.request_for("PutObject", {**headers(KEY), **changes}, secure=True)
    assert err.value.code == code
    assert err.value.extra["ArgumentName"] == f"x-amz-server-side-encryption-customer-{argument}"


@pytest.mark.parametrize("missing", ["algorithm", "key", "key-md5"])
def test_each_missing_part_is_named(missing: str) -> None:
    partial = {k: v for k, v in headers(KEY).items() if not k.endswith(f"-{missing}")}
    with pytest.raises(S3Error) as err:
        sse.request_for("GetObject", partial, secure=True)
    assert err.value.code == "InvalidArgument"
    assert err.value.extra["ArgumentName"] == f"x-amz-server-side-encryption-customer-{missing}"


def test_copy_to_itself_changing_encryption() -> None:
    assert sse.changes_encryption({"x-amz-server-side-encryption": "AES256"})
    assert sse.changes_encryption(headers(KEY))
    assert not sse.changes_encryption(headers(KEY, "x-amz-copy-source-"))
