"""aws-chunked bodies: AWS's published streaming examples, botocore's own framing, malformed wire."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, CrtCrc32cChecksum

from gateway.auth import PayloadDecoder, RequestView, authenticate
from gateway.auth.chunked import MAX_LINE
from gateway.auth.sigv4 import ChunkSigner, signing_key
from gateway.errors import S3Error
from tests.helpers.signing import AWS_SECRET, AWS_TIME, aws_auth, secrets

SIZES = (65536, 1024, 0)


def splits(data: bytes, step: int) -> Iterable[bytes]:
    return (data[i : i + step] for i in range(0, len(data), step))


def run(decoder: PayloadDecoder, body: bytes, step: int | None = None) -> bytes:
    out = b"".join(decoder.feed(piece) for piece in (splits(body, step) if step else [body]))
    decoder.finish()
    return out


def refused(decoder_factory, body: bytes, step: int | None = None) -> str:
    with pytest.raises(S3Error) as info:
        run(decoder_factory(), body, step)
    return info.value.code


# --- AWS's published examples ---------------------------------------------------------------------

DOC_CHUNK_SIGS = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
DOC_TRAILER_CHUNK_SIGS = (
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
)
DOC_TRAILER = b"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" + (
    b"d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
)


def doc_body(signatures: Iterable[str], trailer: bytes = b"") -> bytes:
    body = b""
    for size, sig in zip(SIZES, signatures, strict=True):
        body += f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size
        body += b"\r\n" if size else b""
    return body + trailer + b"\r\n"


def doc_view(trailer: bool, length: int) -> RequestView:
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-date": "20130524T000000Z",
        "x-amz-decoded-content-length": "66560",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
    }
    if trailer:
        headers["x-amz-content-sha256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        headers["x-amz-trailer"] = "x-amz-checksum-crc32c"
        signed = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
        signed += "x-amz-storage-class;x-amz-trailer"
        seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
    else:
        headers["x-amz-content-sha256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        signed = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        signed += "x-amz-decoded-content-length;x-amz-storage-class"
        seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    headers["content-length"] = str(length)
    headers["authorization"] = aws_auth(signed, seed)
    return RequestView("PUT", "/examplebucket/chunkObject.txt", "", headers, "s3.amazonaws.com")


def doc_decoder(trailer: bool = False) -> PayloadDecoder:
    length = len(doc_body(DOC_TRAILER_CHUNK_SIGS, DOC_TRAILER) if trailer else doc_body(DOC_CHUNK_SIGS))
    return authenticate(doc_view(trailer, length), secrets, AWS_TIME).payload


@pytest.mark.parametrize("step", [None, 1, 7, 8192, 65537])
def test_aws_streaming_example(step: int | None) -> None:
    body = doc_body(DOC_CHUNK_SIGS)
    assert len(body) == 66824  # the Content-Length AWS documents
    decoder = doc_decoder()
    assert decoder.declared_size == 66560
    assert run(decoder, body, step) == b"a" * 66560


@pytest.mark.parametrize("step", [None, 1, 1000])
def test_aws_streaming_trailer_example(step: int | None) -> None:
    decoder = doc_decoder(trailer=True)
    assert run(decoder, doc_body(DOC_TRAILER_CHUNK_SIGS, DOC_TRAILER), step) == b"a" * 66560
    assert decoder.checksums == {"crc32c": "sOO8/Q=="}


def test_signed_chunk_tampering() -> None:
    good = doc_body(DOC_CHUNK_SIGS)
    flipped = bytearray(good)
    flipped[200] ^= 1  # a data byte of the first chunk
    assert refused(doc_decoder, bytes(flipped)) == "SignatureDoesNotMatch"
    bad_sig = good.replace(DOC_CHUNK_SIGS[1].encode(), b"0" * 64)
    assert refused(doc_decoder, bad_sig) == "SignatureDoesNotMatch"
    no_sig = good.replace(f";chunk-signature={DOC_CHUNK_SIGS[0]}".encode(), b"")
    assert refused(doc_decoder, no_sig) == "SignatureDoesNotMatch"
    # the final zero-size chunk is signed too, and must be there
    assert (
        refused(doc_decoder, good.replace(DOC_CHUNK_SIGS[2].encode(), b"f" * 64)) == "SignatureDoesNotMatch"
    )
    assert refused(doc_decoder, good[: good.index(b"0;chunk-signature")]) == "IncompleteBody"
    # no trailer in a non-trailer stream
    with_trailer = good[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert refused(doc_decoder, with_trailer) == "MalformedTrailerError"


def test_signed_trailer_tampering() -> None:
    def decoder() -> PayloadDecoder:
        return doc_decoder(trailer=True)

    good = doc_body(DOC_TRAILER_CHUNK_SIGS, DOC_TRAILER)
    assert refused(decoder, good.replace(b"sOO8/Q==", b"AAAAAA==")) == "SignatureDoesNotMatch"
    no_sig = doc_body(DOC_TRAILER_CHUNK_SIGS, b"x-amz-checksum-crc32c:sOO8/Q==\r\n")
    assert refused(decoder, no_sig) == "SignatureDoesNotMatch"
    assert refused(decoder, good[:-2]) == "IncompleteBody"


def test_chunk_and_trailer_signatures_compare_exactly() -> None:
    """A non-ASCII byte in a chunk or trailer signature raised TypeError (a 500) out of compare_digest
    (found by tests/unit/test_parser_properties.py); uppercase hex was accepted. Both are refused."""
    good = doc_body(DOC_CHUNK_SIGS)
    non_ascii = good.replace(DOC_CHUNK_SIGS[0].encode(), DOC_CHUNK_SIGS[0][:-1].encode() + b"\xe9")
    assert refused(doc_decoder, non_ascii) == "SignatureDoesNotMatch"
    upper = good.replace(DOC_CHUNK_SIGS[0].encode(), DOC_CHUNK_SIGS[0].upper().encode())
    assert refused(doc_decoder, upper) == "SignatureDoesNotMatch"

    def trailer_decoder() -> PayloadDecoder:
        return doc_decoder(trailer=True)

    trailer_sig = DOC_TRAILER.split(b"x-amz-trailer-signature:")[1].strip()
    body = doc_body(DOC_TRAILER_CHUNK_SIGS, DOC_TRAILER)
    assert refused(trailer_decoder, body.replace(trailer_sig, trailer_sig[:-1] + b"\xff")) == (
        "SignatureDoesNotMatch"
    )
    assert refused(trailer_decoder, body.replace(trailer_sig, trailer_sig.upper())) == "SignatureDoesNotMatch"


# --- a signed chain of our own making (the signer is checked against AWS's vectors above) -----------


def test_chunk_signer_reproduces_aws_vectors() -> None:
    key = signing_key(AWS_SECRET, "20130524", "us-east-1", "s3")
    signer = ChunkSigner(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", "")
    previous = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    for size, expected in zip(SIZES, DOC_CHUNK_SIGS, strict=True):
        previous = signer.chunk_signature(previous, hashlib.sha256(b"a" * size).hexdigest())
        assert previous == expected


# --- botocore's unsigned aws-chunked framing (boto3/aws-cli over https) ------------------------------


def unsigned_decoder(length: int, alg: str = "crc32", **extra: str) -> PayloadDecoder:
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(length),
        "x-amz-trailer": f"x-amz-checksum-{alg}",
        **extra,
    }
    return authenticate(RequestView("PUT", "/b/k", "", headers, "h"), secrets, AWS_TIME).payload


def botocore_chunked(data: bytes, chunk_size: int = 4, checksum=Crc32Checksum, name: str = "crc32") -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=checksum, checksum_name=f"x-amz-checksum-{name}", chunk_size=chunk_size
    )
    return wrapper.read()


def test_botocore_unsigned_trailer_hello_world() -> None:
    body = botocore_chunked(b"hello world")
    assert body.endswith(b"0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n")
    for step in (None, 1, 3):
        decoder = unsigned_decoder(11)
        assert run(decoder, body, step) == b"hello world"
        assert decoder.checksums == {"crc32": "DUoRhQ=="}


def test_botocore_unsigned_trailer_large_crc32c() -> None:
    data = bytes(range(256)) * 3000  # 768000 bytes
    body = botocore_chunked(data, chunk_size=65536, checksum=CrtCrc32cChecksum, name="crc32c")
    decoder = unsigned_decoder(len(data), "crc32c")
    assert run(decoder, body, 10000) == data


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"zz\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),  # bad hex
        (b"\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),  # empty size
        (b"b\nhello world\r\n0\r\n\r\n", "InvalidRequest"),  # LF without CR
        (b"b\r\nhello worldXX0\r\n\r\n", "InvalidRequest"),  # data not followed by CRLF
        (b"b\r\nhello wor", "IncompleteBody"),  # truncated in data
        (b"b\r\nhello world\r\n", "IncompleteBody"),  # no final chunk
        (b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n", "IncompleteBody"),  # no end line
        (b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\nextra", "InvalidRequest"),
        (b"b\r\nhello world\r\n0\r\n\r\n", "MalformedTrailerError"),  # declared trailer missing
        (b"b\r\nhello world\r\n0\r\nno-colon-here\r\n\r\n", "MalformedTrailerError"),
        (b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "BadDigest"),
        (b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:not base64!\r\n\r\n", "InvalidRequest"),
        (b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", "IncompleteBody"),  # short of 11
        (b"c\r\nhello world!\r\n0\r\n\r\n", "InvalidRequest"),  # longer than declared
        (b"b" + b" " * MAX_LINE + b"\r\nhello world\r\n0\r\n\r\n", "InvalidRequest"),  # line cap
    ],
    ids=lambda value: value[:24].decode(errors="replace") if isinstance(value, bytes) else value,
)
def test_malformed_unsigned_framing(body: bytes, code: str) -> None:
    for step in (None, 1):
        assert refused(lambda: unsigned_decoder(11), body, step) == code


def test_bad_digest_message_names_the_algorithm() -> None:
    body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    with pytest.raises(S3Error) as info:
        run(unsigned_decoder(11), body)
    assert info.value.message == "The CRC32 you specified did not match the calculated checksum."


def test_signed_streaming_needs_sigv4() -> None:
    headers = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": "1",
    }
    with pytest.raises(S3Error) as info:
        authenticate(RequestView("PUT", "/b/k", "", headers, "h"), secrets, AWS_TIME)
    assert info.value.code == "InvalidRequest"


def test_streaming_needs_decoded_length() -> None:
    headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
    with pytest.raises(S3Error) as info:
        authenticate(RequestView("PUT", "/b/k", "", headers, "h"), secrets, AWS_TIME)
    assert info.value.code == "MissingContentLength"
