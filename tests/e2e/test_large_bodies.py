"""Large uploads against the real process: hashed off the event loop in batches, still verified whole.

Bodies over ``gateway.body.READ_AHEAD_OVER`` are hashed in threads a batch at a time and the fs store
takes their MD5 from the body instead of hashing again. Each way a client declares a body (its SHA-256,
UNSIGNED-PAYLOAD with Content-MD5, aws-chunked with a trailer checksum, signed chunks) must still store
the exact bytes with the MD5 as ETag, and refuse a body that does not match, whether the bad byte sits
in the first batch or the last, without anything becoming visible and without disturbing the object
already stored under that key.
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.body import BATCH
from tests.helpers.clients import ACCESS_KEY, SECRET_KEY
from tests.helpers.fuzzgen import aws_chunked, signing_key

SIZE = 3 * BATCH + 12345  # three full batches and a remainder
CREDS = Credentials(ACCESS_KEY, SECRET_KEY)


def _body(seed: int) -> bytes:
    return random.Random(seed).randbytes(SIZE)


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _put(url: str, wire: bytes, headers: dict[str, str]) -> httpx.Response:
    """PUT ``wire`` signed with SigV4 over ``headers`` (x-amz-content-sha256 as given)."""
    request = AWSRequest("PUT", url, headers={**headers, "Content-Length": str(len(wire))})
    SigV4Auth(CREDS, "s3", "us-east-1").add_auth(request)
    sent = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    return httpx.put(url, content=wire, headers=sent, timeout=60)


def _flip(data: bytes, at: int | None) -> bytes:
    """``data`` with the byte at ``at`` changed (the wire a client or a network damaged)."""
    if at is None:
        return data
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _flip_framed(wire: bytes, data: bytes, at: int | None) -> bytes:
    """Change in the aws-chunked ``wire`` the data byte at (or just after) ``at`` of ``data``."""
    if at is None:
        return wire
    for i in range(at, len(data) - 64):
        pos = wire.find(data[i : i + 64])  # 64 random bytes: found once, inside one chunk
        if pos >= 0:
            return _flip(wire, pos)
    raise AssertionError("no place to damage")


def _sha256_signed(url: str, data: bytes, at: int | None) -> httpx.Response:
    return _put(url, _flip(data, at), {"x-amz-content-sha256": hashlib.sha256(data).hexdigest()})


def _unsigned_md5(url: str, data: bytes, at: int | None) -> httpx.Response:
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-MD5": _md5_b64(data)}
    return _put(url, _flip(data, at), headers)


def _chunked_trailer(url: str, data: bytes, at: int | None) -> httpx.Response:
    wire = aws_chunked(random.Random(1), data, signing=None, trailer="crc32")
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    return _put(url, _flip_framed(wire, data, at), headers)


def _signed_chunks(url: str, data: bytes, at: int | None) -> httpx.Response:
    headers = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": str(len(data)),
    }
    # The wire length is signed, so frame once to learn it (a signature is 64 hex digits whatever it
    # is), sign the request, then frame again with the request's signature as the chain's seed.
    dummy = (b"k" * 32, "d", "s", "0" * 64)
    length = len(aws_chunked(random.Random(2), data, signing=dummy, trailer=None))
    request = AWSRequest("PUT", url, headers={**headers, "Content-Length": str(length)})
    SigV4Auth(CREDS, "s3", "us-east-1").add_auth(request)
    stamp = request.headers["X-Amz-Date"]
    seed = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    signing = (signing_key(SECRET_KEY, stamp[:8]), stamp, f"{stamp[:8]}/us-east-1/s3/aws4_request", seed)
    wire = aws_chunked(random.Random(2), data, signing=signing, trailer=None)
    assert len(wire) == length
    sent = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    return httpx.put(url, content=_flip_framed(wire, data, at), headers=sent, timeout=60)


WAYS = {
    "sha256": (_sha256_signed, "XAmzContentSHA256Mismatch"),
    "unsigned+md5": (_unsigned_md5, "BadDigest"),
    "chunked+crc32": (_chunked_trailer, "BadDigest"),
    "signed-chunks": (_signed_chunks, "SignatureDoesNotMatch"),
}


@pytest.mark.parametrize("way", list(WAYS))
def test_large_body_lands_whole_with_its_md5_as_etag(gateway, s3, bucket: str, way: str) -> None:
    put, _ = WAYS[way]
    data = _body(7)
    key = f"big-{uuid.uuid4().hex[:8]}"
    answer = put(f"{gateway.url}/{bucket}/{key}", data, None)
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ETag"] == answer.headers["etag"]
    assert got["Body"].read() == data


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("where", ["first batch", "last bytes"])
def test_large_body_that_does_not_match_is_refused_and_the_old_object_stays(
    gateway, s3, bucket: str, way: str, where: str
) -> None:
    put, code = WAYS[way]
    key = f"kept-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"the object before")
    data = _body(8)
    at = 100 if where == "first batch" else SIZE - 100
    answer = put(f"{gateway.url}/{bucket}/{key}", data, at)
    assert answer.status_code in (400, 403), answer.text
    assert f"<Code>{code}</Code>" in answer.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"the object before"
    fresh = f"fresh-{uuid.uuid4().hex[:8]}"
    answer = put(f"{gateway.url}/{bucket}/{fresh}", data, at)
    assert f"<Code>{code}</Code>" in answer.text
    assert s3.list_objects_v2(Bucket=bucket, Prefix=fresh)["KeyCount"] == 0
