"""The streaming form reader on its own (gateway.postform): any split of the body gives the same fields
and file bytes; the fields before the file are bounded; malformed forms are S3's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway import postform
from gateway.errors import S3Error

pytestmark = pytest.mark.anyio

BOUNDARY = "----s3bridge-test"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def form(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


FILE = bytes(range(256)) * 40 + b"\r\n--almost-a-boundary\r\n"
BODY = form(
    ("Key", b"up/${filename}", None),
    ("x-amz-meta-a", "é".encode(), None),
    ("key", b"second", None),
    ("file", FILE, "f.bin"),
    ("after", b"ignored", None),
)


@pytest.mark.parametrize("size", [1, 7, 100, 4096, len(BODY)])
async def test_any_split_gives_the_same_form(size: int) -> None:
    reader = postform.FormReader(chunks(BODY, size), postform.FormParser(CONTENT_TYPE))
    fields = await reader.fields()
    assert fields == {"key": "up/${filename}", "x-amz-meta-a": "é"}  # names lower-cased, first wins
    assert reader.file == postform.PartStart("file", "f.bin", None)
    data = b"".join([piece async for piece in reader.file_data()])
    assert data == FILE
    await reader.drain()


async def test_form_without_file() -> None:
    reader = postform.FormReader(chunks(form(("key", b"k", None)), 10), postform.FormParser(CONTENT_TYPE))
    assert await reader.fields() == {"key": "k"}
    assert reader.file is None


async def test_fields_before_the_file_are_bounded() -> None:
    big = form(("x-amz-meta-a", b"x" * (postform.MAX_FIELDS_BYTES + 1), None), ("file", b"f", "f"))
    reader = postform.FormReader(chunks(big, 65536), postform.FormParser(CONTENT_TYPE))
    with pytest.raises(S3Error) as err:
        await reader.fields()
    assert err.value.code == "MaxPostPreDataLengthExceededError"


@pytest.mark.parametrize(
    "body",
    [BODY[:-10], BODY.replace(b"Content-Disposition", b"Content-Dispositio"), b"garbage"],
    ids=["truncated", "no-disposition", "garbage"],
)
async def test_malformed_forms(body: bytes) -> None:
    reader = postform.FormReader(chunks(body, 50), postform.FormParser(CONTENT_TYPE))
    with pytest.raises(S3Error) as err:
        await reader.fields()
        async for _ in reader.file_data():
            pass
        await reader.drain()
    assert err.value.code == "MalformedPOSTRequest"


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "multipart/form-data", "multipart/mixed; boundary=x"],
)
def test_only_multipart_form_data(content_type: str | None) -> None:
    with pytest.raises(S3Error) as err:
        postform.FormParser(content_type)
    assert (err.value.code, err.value.extra["Condition"]) == (
        "PreconditionFailed",
        "Bucket POST must be of the enclosure-type multipart/form-data",
    )
