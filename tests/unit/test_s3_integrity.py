"""The s3 backend's Object Lock wire (pure): lock headers both ways, the forwarded integrity values, and the
aws-chunked body with a trailing checksum, decoded here by the gateway's own aws-chunked parser."""

from __future__ import annotations

import io

import pytest

from backends import errors as be
from backends.base import ObjectMeta
from backends.bridge import BodyReadError
from backends.s3.client import SizedStream, SpooledSource
from backends.s3.integrity import FRAME, TrailerStream, encoded_length, forwarded_headers
from backends.s3.objectlock import lock_upload_id, split_upload_id
from backends.s3.wire import lock_date, lock_request_headers, meta_from_headers, meta_headers
from backends.wire.checksums import Checksummer
from gateway.auth.chunked import AwsChunkedParser


def _drain(stream: TrailerStream) -> bytes:
    out = []
    while block := stream.read(8192):
        out.append(block)
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME + 17])
def test_trailer_stream_is_the_declared_length_and_decodes(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    stream = TrailerStream(SizedStream(SpooledSource(io.BytesIO(data)), size, final=True))
    wire = _drain(stream)
    assert len(wire) == stream.length == encoded_length(size)
    parser = AwsChunkedParser(trailer=True)
    decoded = b"".join(parser.feed(wire))
    parser.finish()
    assert decoded == data
    want = Checksummer("crc32")
    want.update(data)
    assert parser.trailers == {"x-amz-checksum-crc32": want.b64digest()}
    assert stream.headers()["x-amz-decoded-content-length"] == str(size)
    assert stream.headers()["x-amz-trailer"] == "x-amz-checksum-crc32"


class _Failing:
    """A client body whose end-of-stream check fails (a bad checksum, say)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def drain_to_eof(self) -> bool:
        raise BodyReadError("the client's checksum did not match")


def test_a_failing_body_stops_before_its_last_frame() -> None:
    size = FRAME + 5
    stream = TrailerStream(SizedStream(_Failing(b"x" * size), size, final=True))
    sent = stream.read(8192)
    assert sent.startswith(f"{FRAME:x}\r\n".encode())
    with pytest.raises(BodyReadError):
        stream.read(8192)  # the frame holding the last bytes, and the trailer, never go out


def test_forwarded_headers() -> None:
    assert forwarded_headers({}) == {}
    assert forwarded_headers({"md5": "bWQ1", "crc32": "AAAAAA=="}) == {
        "Content-MD5": "bWQ1",
        "x-amz-checksum-crc32": "AAAAAA==",
        "x-amz-sdk-checksum-algorithm": "CRC32",
    }


def test_lock_headers_both_ways() -> None:
    meta = ObjectMeta(lock_mode="COMPLIANCE", lock_retain_until="2030-01-02T03:04:05.000Z", legal_hold=True)
    sent = meta_headers(meta)
    assert sent["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert sent["x-amz-object-lock-retain-until-date"] == "2030-01-02T03:04:05.000Z"
    assert sent["x-amz-object-lock-legal-hold"] == "ON"
    back = meta_from_headers({**sent, "x-amz-object-lock-retain-until-date": "2030-01-02T03:04:05Z"})
    assert (back.lock_mode, back.lock_retain_until, back.legal_hold) == (
        "COMPLIANCE",
        "2030-01-02T03:04:05.000Z",
        True,
    )
    assert lock_request_headers(ObjectMeta(legal_hold=False)) == {}  # OFF asks for nothing
    assert meta_from_headers({"x-amz-object-lock-legal-hold": "OFF"}).legal_hold is False
    assert meta_from_headers({}).legal_hold is None
    unreadable = meta_from_headers(
        {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "soon"}
    )
    assert (unreadable.lock_mode, unreadable.lock_retain_until) == (None, None)
    assert lock_date("2030-01-02T03:04:05.123456+01:00") == "2030-01-02T02:04:05.123Z"


def test_a_locking_upload_id_carries_its_lock() -> None:
    lock = ObjectMeta(lock_mode="GOVERNANCE", lock_retain_until="2030-01-02T03:04:05.000Z", legal_hold=True)
    upload_id = lock_upload_id("2~store.id_-x", lock)
    assert upload_id.startswith("2~store.id_-x.")
    store_id, back = split_upload_id(upload_id)
    assert store_id == "2~store.id_-x"
    assert back is not None
    assert (back.lock_mode, back.lock_retain_until, back.legal_hold) == (
        "GOVERNANCE",
        lock.lock_retain_until,
        True,
    )
    assert lock_upload_id("plain", ObjectMeta()) == "plain"
    assert split_upload_id("plain") == ("plain", None)
    for forged in (
        upload_id[:-3],
        "x.s3bridge-lock-bm90IGpzb24",
        ".s3bridge-lock-" + upload_id.rpartition("-")[2],
    ):
        with pytest.raises(be.NoSuchUpload):
            split_upload_id(forged)
