"""GetObjectAttributes and GetObject / HeadObject with ``partNumber`` in-process over fs: the part's
bytes with 206, Content-Range and ``x-amz-mp-parts-count``, S3's refusals, and paged ObjectParts."""

from __future__ import annotations

import base64
import zlib

import pytest
from lxml import etree

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio
NS = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
MiB = 1024 * 1024
PARTS = [bytes([65 + n]) * (5 * MiB) for n in range(2)] + [b"tail"]


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def multipart(gw: InProcessGateway, key: str = "mp") -> str:
    await gw.request("PUT", "/bkt")
    created = await gw.request(
        "POST", f"/bkt/{key}", params={"uploads": ""}, headers={"x-amz-checksum-algorithm": "CRC32"}
    )
    upload_id = etree.fromstring(created.content).findtext("s3:UploadId", namespaces=NS)
    assert upload_id
    xml = ["<CompleteMultipartUpload>"]
    for number, data in enumerate(PARTS, start=1):
        part = await gw.request(
            "PUT",
            f"/bkt/{key}",
            params={"partNumber": str(number), "uploadId": upload_id},
            body=data,
            headers={"x-amz-checksum-crc32": crc32(data)},
        )
        assert part.status_code == 200, part.text
        xml.append(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{part.headers['etag']}</ETag>"
            f"<ChecksumCRC32>{crc32(data)}</ChecksumCRC32></Part>"
        )
    xml.append("</CompleteMultipartUpload>")
    done = await gw.request("POST", f"/bkt/{key}", params={"uploadId": upload_id}, body="".join(xml).encode())
    assert done.status_code == 200, done.text
    return etree.fromstring(done.content).findtext("s3:ETag", namespaces=NS) or ""


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_part_number_reads(inproc: InProcessGateway, method: str) -> None:
    etag = await multipart(inproc)
    total = sum(len(p) for p in PARTS)
    start = 0
    for number, data in enumerate(PARTS, start=1):
        got = await inproc.request(method, "/bkt/mp", params={"partNumber": str(number)})
        assert got.status_code == 206, got.text
        assert got.headers["x-amz-mp-parts-count"] == "3"
        assert got.headers["content-range"] == f"bytes {start}-{start + len(data) - 1}/{total}"
        assert got.headers["content-length"] == str(len(data))
        assert got.headers["etag"] == etag
        if method == "GET":
            assert got.content == data
        start += len(data)
    beyond = await inproc.request(method, "/bkt/mp", params={"partNumber": "4"})
    assert_s3_error(beyond, 416, "InvalidPartNumber")


async def test_part_number_of_single_part_object(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    await inproc.request("PUT", "/bkt/plain", body=b"whole object")
    got = await inproc.request("GET", "/bkt/plain", params={"partNumber": "1"})
    assert got.status_code == 206 and got.content == b"whole object"
    assert got.headers["content-range"] == "bytes 0-11/12"
    assert "x-amz-mp-parts-count" not in got.headers
    assert_s3_error(
        await inproc.request("GET", "/bkt/plain", params={"partNumber": "2"}), 416, "InvalidPartNumber"
    )


@pytest.mark.parametrize(
    ("params", "headers", "code"),
    [
        ({"partNumber": "0"}, {}, "InvalidArgument"),
        ({"partNumber": "10001"}, {}, "InvalidArgument"),
        ({"partNumber": "x"}, {}, "InvalidArgument"),
        ({"partNumber": "1"}, {"Range": "bytes=0-1"}, "InvalidRequest"),
    ],
    ids=["zero", "too-big", "not-a-number", "with-range"],
)
async def test_part_number_refusals(
    inproc: InProcessGateway, params: dict[str, str], headers: dict[str, str], code: str
) -> None:
    await inproc.request("PUT", "/bkt")
    await inproc.request("PUT", "/bkt/plain", body=b"x")
    assert_s3_error(await inproc.request("GET", "/bkt/plain", params=params, headers=headers), 400, code)


def attrs(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    assert etree.QName(root).localname == "GetObjectAttributesOutput"
    return root


async def test_object_attributes(inproc: InProcessGateway) -> None:
    etag = await multipart(inproc)
    every = "ETag,Checksum,ObjectParts,StorageClass,ObjectSize"
    got = await inproc.request(
        "GET", "/bkt/mp", params={"attributes": ""}, headers={"x-amz-object-attributes": every}
    )
    assert got.status_code == 200, got.text
    assert got.headers["last-modified"]
    root = attrs(got.content)
    assert root.findtext("s3:ETag", namespaces=NS) == etag.strip('"')
    assert root.findtext("s3:ObjectSize", namespaces=NS) == str(sum(len(p) for p in PARTS))
    assert root.findtext("s3:StorageClass", namespaces=NS) == "STANDARD"
    assert root.findtext("s3:Checksum/s3:ChecksumType", namespaces=NS) == "COMPOSITE"
    assert root.findtext("s3:ObjectParts/s3:PartsCount", namespaces=NS) == "3"
    sizes = [p.findtext("s3:Size", namespaces=NS) for p in root.iterfind("s3:ObjectParts/s3:Part", NS)]
    assert sizes == [str(len(p)) for p in PARTS]
    first = root.find("s3:ObjectParts/s3:Part", NS)
    assert first is not None and first.findtext("s3:ChecksumCRC32", namespaces=NS) == crc32(PARTS[0])
    paged = await inproc.request(
        "GET",
        "/bkt/mp",
        params={"attributes": ""},
        headers={
            "x-amz-object-attributes": "ObjectParts",
            "x-amz-max-parts": "1",
            "x-amz-part-number-marker": "1",
        },
    )
    root = attrs(paged.content)
    assert [
        p.findtext("s3:PartNumber", namespaces=NS) for p in root.iterfind("s3:ObjectParts/s3:Part", NS)
    ] == ["2"]
    assert root.findtext("s3:ObjectParts/s3:IsTruncated", namespaces=NS) == "true"
    assert root.findtext("s3:ObjectParts/s3:NextPartNumberMarker", namespaces=NS) == "2"
    assert root.find("s3:ETag", NS) is None


async def test_object_attributes_single_part(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    await inproc.request(
        "PUT", "/bkt/plain", body=b"12345", headers={"x-amz-checksum-crc32": crc32(b"12345")}
    )
    got = await inproc.request(
        "GET",
        "/bkt/plain",
        params={"attributes": ""},
        headers={"x-amz-object-attributes": "ObjectParts,Checksum,ObjectSize"},
    )
    root = attrs(got.content)
    assert root.find("s3:ObjectParts", NS) is None
    assert root.findtext("s3:Checksum/s3:ChecksumCRC32", namespaces=NS) == crc32(b"12345")
    assert root.findtext("s3:ObjectSize", namespaces=NS) == "5"


@pytest.mark.parametrize(
    ("value", "code"), [(None, "InvalidRequest"), ("", "InvalidRequest"), ("ETag,Colour", "InvalidArgument")]
)
async def test_object_attributes_refusals(inproc: InProcessGateway, value: str | None, code: str) -> None:
    await inproc.request("PUT", "/bkt")
    await inproc.request("PUT", "/bkt/plain", body=b"x")
    headers = {"x-amz-object-attributes": value} if value is not None else {}
    assert_s3_error(
        await inproc.request("GET", "/bkt/plain", params={"attributes": ""}, headers=headers), 400, code
    )
    missing = await inproc.request(
        "GET", "/bkt/none", params={"attributes": ""}, headers={"x-amz-object-attributes": "ETag"}
    )
    assert_s3_error(missing, 404, "NoSuchKey")
