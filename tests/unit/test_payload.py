"""The payload decoder on plain bodies: lengths, x-amz-content-sha256, Content-MD5, checksum headers."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.auth import PayloadDecoder, RequestView, authenticate, new_payload_decoder
from gateway.auth.chunked import MAX_LINE
from gateway.errors import S3Error
from tests.helpers.signing import AWS_TIME, accept, botocore_request, secrets, view_of

HELLO = b"hello world"
HELLO_MD5 = base64.b64encode(hashlib.md5(HELLO).digest()).decode()
HELLO_SHA = hashlib.sha256(HELLO).hexdigest()


def decoder(**headers: str) -> PayloadDecoder:
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    return new_payload_decoder(headers, content_sha256=headers.get("x-amz-content-sha256"))


def finish_code(d: PayloadDecoder, body: bytes = HELLO) -> str:
    with pytest.raises(S3Error) as info:
        d.feed(body)
        d.finish()
    return info.value.code


def test_plain_body_with_everything_declared() -> None:
    d = decoder(
        content_length="11",
        content_md5=HELLO_MD5,
        x_amz_checksum_crc32="DUoRhQ==",
        x_amz_content_sha256=HELLO_SHA,
    )
    assert d.declared_size == 11
    assert d.feed(HELLO[:4]) + d.feed(HELLO[4:]) == HELLO
    d.finish()
    assert d.checksums == {"crc32": "DUoRhQ=="}
    assert d.md5_hex == hashlib.md5(HELLO).hexdigest()


def test_declared_values_are_the_up_front_ones() -> None:
    """What a backend may forward before the bytes: Content-MD5 and x-amz-checksum-* headers, never a
    value only a trailer will bring."""
    d = decoder(content_length="11", content_md5=HELLO_MD5, x_amz_checksum_crc32="DUoRhQ==")
    assert d.declared == {"md5": HELLO_MD5, "crc32": "DUoRhQ=="}
    trailer = decoder(
        x_amz_content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        x_amz_trailer="x-amz-checksum-crc32",
        x_amz_decoded_content_length="11",
    )
    assert trailer.declared == {}


def test_sdk_algorithm_computes_without_a_value() -> None:
    d = decoder(content_length="11", x_amz_sdk_checksum_algorithm="CRC32C")
    d.feed(HELLO)
    d.finish()
    assert d.checksums == {"crc32c": "yZRlqg=="}
    assert d.md5_hex is None


def test_unknown_length_is_none() -> None:
    d = decoder()
    assert d.declared_size is None
    assert d.feed(HELLO) == HELLO
    d.finish()
    assert d.checksums == {}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"content_length": "12"}, "IncompleteBody"),
        ({"content_length": "10"}, "InvalidRequest"),
        ({"content_md5": base64.b64encode(b"x" * 16).decode()}, "BadDigest"),
        ({"x_amz_checksum_crc32": "AAAAAA=="}, "BadDigest"),
        ({"x_amz_checksum_sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()}, "BadDigest"),
        ({"x_amz_content_sha256": hashlib.sha256(b"x").hexdigest()}, "XAmzContentSHA256Mismatch"),
    ],
)
def test_mismatches(headers: dict[str, str], code: str) -> None:
    assert finish_code(decoder(**headers)) == code


def deferred_finish_code(d: PayloadDecoder, body: bytes = HELLO) -> str:
    """``finish_code`` with the hashing deferred: the caller runs every lane over the decoded bytes."""
    lanes = d.defer_hashing()
    with pytest.raises(S3Error) as info:
        out = d.feed(body[:4]) + d.feed(body[4:])
        for lane in lanes:
            lane(out[:3])
            lane(out[3:])
        d.finish()
    return info.value.code


@pytest.mark.parametrize(
    "headers",
    [
        {"content_md5": base64.b64encode(b"x" * 16).decode()},
        {"x_amz_checksum_crc32": "AAAAAA=="},
        {"x_amz_checksum_sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()},
        {"x_amz_content_sha256": hashlib.sha256(b"x").hexdigest()},
        {"x_amz_content_sha256": hashlib.sha256(b"x").hexdigest(), "content_md5": HELLO_MD5},
        {"x_amz_content_sha256": HELLO_SHA, "x_amz_checksum_crc32c": "AAAAAA=="},
        {"content_length": "12"},
        {"content_length": "10"},
    ],
)
def test_deferred_hashing_reaches_the_same_verdicts(headers: dict[str, str]) -> None:
    assert deferred_finish_code(decoder(**headers)) == finish_code(decoder(**headers))


def test_deferred_hashing_of_a_good_body_and_the_md5_asked_for() -> None:
    d = decoder(content_length="11", x_amz_checksum_crc32="DUoRhQ==", x_amz_content_sha256=HELLO_SHA)
    d.want_md5()  # no Content-MD5 to check, but the store wants the ETag
    lanes = d.defer_hashing()
    assert len(lanes) == 2  # MD5 alone, SHA-256 and CRC32 together: two threads at most
    out = d.feed(HELLO)
    for lane in lanes:
        lane(out)
    d.finish()
    assert d.checksums == {"crc32": "DUoRhQ=="}
    assert d.md5_hex == hashlib.md5(HELLO).hexdigest()


def test_deferred_hashing_left_undone_fails_the_body() -> None:
    """Lanes not run: the digests are of nothing, so a declared value cannot match by accident."""
    d = decoder(content_length="11", x_amz_content_sha256=HELLO_SHA)
    d.defer_hashing()
    d.feed(HELLO)
    with pytest.raises(S3Error) as info:
        d.finish()
    assert info.value.code == "XAmzContentSHA256Mismatch"


def test_md5_is_computed_only_when_declared_or_asked_for() -> None:
    d = decoder(content_length="11")
    d.feed(HELLO)
    d.finish()
    assert d.md5_hex is None


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"content_md5": "not base64"}, "InvalidDigest"),
        ({"content_md5": base64.b64encode(b"short").decode()}, "InvalidDigest"),
        ({"x_amz_checksum_crc32": "DUoRhQ"}, "InvalidRequest"),
        ({"x_amz_checksum_crc32": "AAAAAAAAAAA="}, "InvalidRequest"),
        ({"x_amz_checksum_crc32": "DUoRhQ==", "x_amz_checksum_crc32c": "yZRlqg=="}, "InvalidRequest"),
        ({"x_amz_sdk_checksum_algorithm": "MD5"}, "InvalidRequest"),
        ({"x_amz_sdk_checksum_algorithm": "SHA1", "x_amz_checksum_crc32": "DUoRhQ=="}, "InvalidRequest"),
        ({"x_amz_content_sha256": "SOMETHING-ELSE"}, "InvalidArgument"),
        ({"x_amz_trailer": "x-amz-checksum-crc32"}, "InvalidRequest"),
        ({"content_length": "-1"}, "InvalidArgument"),
    ],
)
def test_refused_up_front(headers: dict[str, str], code: str) -> None:
    with pytest.raises(S3Error) as info:
        decoder(**headers)
    assert info.value.code == code


def test_checksum_mode_and_algorithm_headers_are_not_body_values() -> None:
    d = decoder(
        x_amz_checksum_mode="ENABLED", x_amz_checksum_algorithm="CRC32", x_amz_checksum_type="COMPOSITE"
    )
    d.feed(HELLO)
    d.finish()
    assert d.checksums == {}


def test_presigned_put_ignores_checksums_in_the_query() -> None:
    """The JS SDK presigns PUT with x-amz-checksum-crc32=AAAAAA== (an empty body's CRC) in the query."""
    prepared = botocore_request(
        "PUT", "/b/k", params=[("x-amz-checksum-crc32", "AAAAAA==")], signer="v4-query"
    )
    view = view_of(prepared)
    view = RequestView(view.method, view.raw_path, view.query_string, {"content-length": "11"}, view.host)
    result = accept(view)
    assert result.payload.feed(HELLO) == HELLO
    result.payload.finish()
    assert result.payload.checksums == {}


def test_sigv4_header_body_verification_through_authenticate() -> None:
    prepared = botocore_request("PUT", "/b/k", body=HELLO, headers={"Content-MD5": HELLO_MD5})
    result = accept(view_of(prepared))
    result.payload.feed(HELLO)
    result.payload.finish()
    tampered = accept(view_of(prepared)).payload
    assert finish_code(tampered, b"hello World") == "XAmzContentSHA256Mismatch"


def test_data_passes_through_before_the_chunk_ends() -> None:
    """Memory stays bounded: decoded bytes leave as soon as they arrive, not when their chunk ends."""
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "100000",
    }
    result = authenticate(RequestView("PUT", "/b/k", "", headers, "h"), secrets, AWS_TIME)
    first = result.payload.feed(b"186a0\r\n" + b"x" * 30000)
    assert first == b"x" * 30000
    assert result.payload.feed(b"y" * 70000) == b"y" * 70000
    assert result.payload.feed(b"\r\n0\r\n\r\n") == b""
    result.payload.finish()


def test_header_line_buffer_is_capped() -> None:
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "1",
    }
    payload = authenticate(RequestView("PUT", "/b/k", "", headers, "h"), secrets, AWS_TIME).payload
    with pytest.raises(S3Error) as info:
        for _ in range(MAX_LINE + 10):
            payload.feed(b"0")
    assert info.value.code == "InvalidRequest"


def test_complete_multipart_checksum_header_is_not_the_body() -> None:
    """CompleteMultipartUpload's x-amz-checksum-crc32 is the object's checksum, not the XML body's."""
    d = decoder(content_length="11", x_amz_checksum_crc32="AAAAAA==")
    d.ignore_checksum_headers()
    d.feed(HELLO)
    d.finish()
    assert d.checksums == {}
