"""Tagging answers in-process over fs: the object and bucket tagging operations, ``x-amz-tagging`` on
writes and copies, ``x-amz-tagging-count`` on reads, and S3's refusals of tag sets it would not store."""

from __future__ import annotations

import pytest
from lxml import etree

from backends.wire.tagging import tagging_document
from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio


def tag_set(body: bytes) -> list[tuple[str | None, str | None]]:
    root = etree.fromstring(body)
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    return [
        (t.findtext("s3:Key", namespaces=ns), t.findtext("s3:Value", namespaces=ns))
        for t in root.iterfind("s3:TagSet/s3:Tag", ns)
    ]


async def setup(gw: InProcessGateway, tagging: str | None = None) -> None:
    await gw.request("PUT", "/bkt")
    headers = {"x-amz-tagging": tagging} if tagging is not None else {}
    put = await gw.request("PUT", "/bkt/obj", body=b"data", headers=headers)
    assert put.status_code == 200, put.text


async def test_object_tagging_round_trip(inproc: InProcessGateway) -> None:
    await setup(inproc, "b=two+words&a=%C3%BC&empty")
    got = await inproc.request("GET", "/bkt/obj", params={"tagging": ""})
    assert got.status_code == 200
    assert tag_set(got.content) == [("a", "ü"), ("b", "two words"), ("empty", "")]  # key order
    for method in ("GET", "HEAD"):
        read = await inproc.request(method, "/bkt/obj")
        assert read.headers["x-amz-tagging-count"] == "3"
    put = await inproc.request("PUT", "/bkt/obj", params={"tagging": ""}, body=tagging_document([("k", "v")]))
    assert put.status_code == 200, put.text
    got = await inproc.request("GET", "/bkt/obj", params={"tagging": ""})
    assert tag_set(got.content) == [("k", "v")]
    deleted = await inproc.request("DELETE", "/bkt/obj", params={"tagging": ""})
    assert deleted.status_code == 204
    got = await inproc.request("GET", "/bkt/obj", params={"tagging": ""})
    assert tag_set(got.content) == []
    assert "x-amz-tagging-count" not in (await inproc.request("HEAD", "/bkt/obj")).headers
    assert (await inproc.request("GET", "/bkt/obj")).content == b"data"


async def test_tagging_of_missing_object(inproc: InProcessGateway) -> None:
    await setup(inproc)
    missing = await inproc.request("GET", "/bkt/absent", params={"tagging": ""})
    assert_s3_error(missing, 404, "NoSuchKey")
    put = await inproc.request("PUT", "/bkt/absent", params={"tagging": ""}, body=tagging_document([]))
    assert_s3_error(put, 404, "NoSuchKey")


@pytest.mark.parametrize(
    ("pairs", "status", "code"),
    [
        ([(f"k{n}", "v") for n in range(11)], 400, "BadRequest"),
        ([("k" * 129, "v")], 400, "InvalidTag"),
        ([("k", "v" * 257)], 400, "InvalidTag"),
        ([("", "v")], 400, "InvalidTag"),
        ([("a", "1"), ("a", "2")], 400, "InvalidTag"),
        ([("aws:owner", "me")], 400, "InvalidTag"),
        ([("bad{key}", "v")], 400, "InvalidTag"),
        ([("k", "tab\there")], 400, "InvalidTag"),
    ],
    ids=["eleven", "long-key", "long-value", "empty-key", "duplicate", "aws-prefix", "braces", "tab"],
)
async def test_put_object_tagging_refusals(
    inproc: InProcessGateway, pairs: list[tuple[str, str]], status: int, code: str
) -> None:
    await setup(inproc, "keep=me")
    put = await inproc.request("PUT", "/bkt/obj", params={"tagging": ""}, body=tagging_document(pairs))
    assert_s3_error(put, status, code)
    got = await inproc.request("GET", "/bkt/obj", params={"tagging": ""})
    assert tag_set(got.content) == [("keep", "me")]


async def test_limits_are_inclusive(inproc: InProcessGateway) -> None:
    await setup(inproc)
    pairs = [(f"{n}" + "k" * 127, "v" * 256) for n in range(10)]
    put = await inproc.request("PUT", "/bkt/obj", params={"tagging": ""}, body=tagging_document(pairs))
    assert put.status_code == 200, put.text
    astral = [("\U0001f600" * 64, "\U0001f600" * 128)]  # 128 and 256 UTF-16 units: S3's counting
    put = await inproc.request("PUT", "/bkt/obj", params={"tagging": ""}, body=tagging_document(astral))
    assert_s3_error(put, 400, "InvalidTag")  # emoji are symbols, not letters


@pytest.mark.parametrize(
    ("header", "code"),
    [("a=b=c", "InvalidArgument"), ("a=1&a=2", "InvalidArgument"), ("%ZZ=1", "InvalidTag")],
    ids=["two-equals", "duplicate", "bad-escape"],
)
async def test_tagging_header_refusals(inproc: InProcessGateway, header: str, code: str) -> None:
    await inproc.request("PUT", "/bkt")
    put = await inproc.request("PUT", "/bkt/obj", body=b"x", headers={"x-amz-tagging": header})
    assert_s3_error(put, 400, code)
    assert_s3_error(await inproc.request("HEAD", "/bkt/obj"), 404, "NoSuchKey")


async def test_malformed_tagging_document(inproc: InProcessGateway) -> None:
    await setup(inproc)
    for body in (b"<Tagging/>", b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>", b"nope"):
        put = await inproc.request("PUT", "/bkt/obj", params={"tagging": ""}, body=body)
        assert_s3_error(put, 400, "MalformedXML")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, [("src", "1")]),
        ({"x-amz-tagging-directive": "COPY", "x-amz-tagging": "ignored=1"}, [("src", "1")]),
        ({"x-amz-tagging-directive": "REPLACE", "x-amz-tagging": "new=2"}, [("new", "2")]),
        ({"x-amz-tagging-directive": "REPLACE"}, []),
        ({"x-amz-metadata-directive": "REPLACE"}, [("src", "1")]),
        ({"x-amz-metadata-directive": "REPLACE", "x-amz-tagging-directive": "REPLACE"}, []),
    ],
    ids=["default", "copy", "replace", "replace-none", "meta-replace", "both-replace"],
)
async def test_copy_tagging_directive(
    inproc: InProcessGateway, headers: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    await setup(inproc, "src=1")
    copy = await inproc.request("PUT", "/bkt/dst", headers={"x-amz-copy-source": "/bkt/obj", **headers})
    assert copy.status_code == 200, copy.text
    got = await inproc.request("GET", "/bkt/dst", params={"tagging": ""})
    assert tag_set(got.content) == expected


async def test_copy_bad_tagging_directive(inproc: InProcessGateway) -> None:
    await setup(inproc)
    copy = await inproc.request(
        "PUT", "/bkt/dst", headers={"x-amz-copy-source": "/bkt/obj", "x-amz-tagging-directive": "MOVE"}
    )
    assert_s3_error(copy, 400, "InvalidArgument")


async def test_multipart_tagging(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    created = await inproc.request(
        "POST", "/bkt/mp", params={"uploads": ""}, headers={"x-amz-tagging": "kind=multi"}
    )
    upload_id = etree.fromstring(created.content).findtext("{*}UploadId")
    assert upload_id
    part = await inproc.request(
        "PUT", "/bkt/mp", params={"partNumber": "1", "uploadId": upload_id}, body=b"part"
    )
    done = await inproc.request(
        "POST",
        "/bkt/mp",
        params={"uploadId": upload_id},
        body=(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{part.headers['etag']}</ETag></Part></CompleteMultipartUpload>"
        ).encode(),
    )
    assert done.status_code == 200, done.text
    got = await inproc.request("GET", "/bkt/mp", params={"tagging": ""})
    assert tag_set(got.content) == [("kind", "multi")]


async def test_bucket_tagging(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    assert_s3_error(await inproc.request("GET", "/bkt", params={"tagging": ""}), 404, "NoSuchTagSet")
    assert_s3_error(await inproc.request("GET", "/nobkt", params={"tagging": ""}), 404, "NoSuchBucket")
    pairs = [(f"k{n:02d}", "v") for n in range(50)]
    put = await inproc.request("PUT", "/bkt", params={"tagging": ""}, body=tagging_document(pairs))
    assert put.status_code == 204, put.text
    got = await inproc.request("GET", "/bkt", params={"tagging": ""})
    assert got.status_code == 200
    assert tag_set(got.content) == pairs
    too_many = [*pairs, ("k50", "v")]
    put = await inproc.request("PUT", "/bkt", params={"tagging": ""}, body=tagging_document(too_many))
    assert_s3_error(put, 400, "InvalidTag")
    deleted = await inproc.request("DELETE", "/bkt", params={"tagging": ""})
    assert deleted.status_code == 204
    assert_s3_error(await inproc.request("GET", "/bkt", params={"tagging": ""}), 404, "NoSuchTagSet")
