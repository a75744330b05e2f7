"""The S3 backend's error table: minio / urllib3 failures → contract errors, store message kept in detail."""

from __future__ import annotations

import pytest
import urllib3
from minio.error import InvalidResponseError, S3Error, ServerError
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from backends import errors as be
from backends.s3.errors import classify, map_error


def s3_error(
    code: str | None, status: int, message: str = "store says no", headers: dict | None = None
) -> S3Error:
    response = urllib3.HTTPResponse(body=b"", headers=headers or {}, status=status)
    return S3Error(response, code, message, "/b/k", "req-1", "host-1", "b", "k")


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("NoSuchKey", 404, be.NoSuchKey),
        ("NoSuchBucket", 404, be.NoSuchBucket),
        ("NoSuchUpload", 404, be.NoSuchUpload),
        ("BucketNotEmpty", 409, be.BucketNotEmpty),
        ("BucketAlreadyOwnedByYou", 409, be.BucketAlreadyOwnedByYou),
        ("BucketAlreadyExists", 409, be.BucketAlreadyExists),
        ("InvalidPart", 400, be.InvalidPart),
        ("InvalidPartOrder", 400, be.InvalidPartOrder),
        ("EntityTooSmall", 400, be.EntityTooSmall),
        ("PreconditionFailed", 412, be.PreconditionFailed),
        ("AccessDenied", 403, be.AccessDenied),
        ("SignatureDoesNotMatch", 403, be.AccessDenied),
        ("InvalidAccessKeyId", 403, be.AccessDenied),
        ("SlowDown", 503, be.SlowDown),
        ("ServiceUnavailable", 503, be.SlowDown),
        ("InternalError", 500, be.BackendUnavailable),
        ("SomethingNew", 502, be.BackendUnavailable),
        ("SomethingNew", 503, be.SlowDown),
        ("SomethingNew", 400, be.InternalBackendError),
        ("KeyTooLongError", 400, be.KeyTooLong),
        ("NotImplemented", 501, be.NotImplementedByBackend),
    ],
)
def test_s3_error_codes(code: str, status: int, kind: type[be.BackendError]) -> None:
    mapped = map_error(s3_error(code, status, "the store's words"), "store-a")
    assert type(mapped) is kind
    assert mapped.backend == "store-a"
    assert mapped.detail is not None and "the store's words" in mapped.detail and code in mapped.detail


def test_retryability_follows_the_kind() -> None:
    assert map_error(s3_error("SlowDown", 503), "s").retryable
    assert map_error(s3_error("InternalError", 500), "s").retryable
    assert not map_error(s3_error("NoSuchKey", 404), "s").retryable
    assert not map_error(s3_error("SignatureDoesNotMatch", 403), "s").retryable


def test_invalid_range_takes_size_from_content_range() -> None:
    mapped = map_error(s3_error("InvalidRange", 416, headers={"Content-Range": "bytes */1000"}), "s")
    assert isinstance(mapped, be.InvalidRange)
    assert mapped.size == 1000


def test_invalid_range_without_content_range_has_no_size() -> None:
    mapped = map_error(s3_error("InvalidRange", 416), "s")
    assert isinstance(mapped, be.InvalidRange)
    assert mapped.size is None


def test_bodiless_and_non_xml_answers_are_classified_by_status() -> None:
    assert type(map_error(ServerError("server failed with HTTP status code 503", 503), "s")) is be.SlowDown
    assert (
        type(map_error(ServerError("server failed with HTTP status code 502", 502), "s"))
        is be.BackendUnavailable
    )
    html = InvalidResponseError(500, "text/html", "<html>" + "x" * 5000 + "</html>")
    mapped = map_error(html, "s")
    assert type(mapped) is be.BackendUnavailable
    assert mapped.detail is not None and len(mapped.detail) <= 300 and "\n" not in mapped.detail
    assert type(map_error(InvalidResponseError(404, "text/html", None), "s")) is be.NoSuchKey


@pytest.mark.parametrize(
    "exc",
    [
        NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"),  # type: ignore[arg-type]
        ProtocolError("Connection broken: IncompleteRead(10 bytes read, 90 more expected)"),
        ReadTimeoutError(None, "http://127.0.0.1:1/b/k", "Read timed out."),  # type: ignore[arg-type]
        MaxRetryError(None, "/b/k", ProtocolError("Connection aborted.")),  # type: ignore[arg-type]
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_failures_are_backend_unavailable(exc: BaseException) -> None:
    mapped = map_error(exc, "s")
    assert type(mapped) is be.BackendUnavailable
    assert mapped.retryable
    assert mapped.detail is not None and type(exc).__name__ in mapped.detail


def test_contract_errors_and_foreign_exceptions_pass_through() -> None:
    original = be.NoSuchUpload(backend="s")
    assert map_error(original, "other") is original
    foreign = KeyError("not an SDK failure")
    assert map_error(foreign, "s") is foreign


def test_classify_without_code_or_status_is_internal() -> None:
    assert classify(None, None) is be.InternalBackendError
    assert classify(None, 403) is be.AccessDenied
    assert classify(None, 412) is be.PreconditionFailed


def test_an_error_sent_as_json_is_classified_by_its_code() -> None:
    """Ceph RGW answers some refusals with a JSON body: its Code still decides, never InternalError."""
    body = '{"Code":"InvalidRequest","Message":"","RequestId":"tx1","HostId":"h"}'
    mapped = map_error(InvalidResponseError(400, "application/json", body), "store")
    assert isinstance(mapped, be.InvalidArgument)
    garbled = map_error(InvalidResponseError(400, "application/json", "{not json"), "store")
    assert isinstance(garbled, be.InternalBackendError)
