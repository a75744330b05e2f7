"""CompleteMultipartUpload's ``x-amz-mp-object-size``: the size a client asks to be checked is checked
before anything commits (S3 answers a mismatch with 400 InvalidRequest)."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio

PART = b"p" * (5 * 1024 * 1024)
TAIL = b"tail"


async def upload(gw: InProcessGateway, key: str) -> tuple[str, bytes]:
    """An upload of ``key`` with two parts (5 MiB and 4 bytes): its id and the Complete document."""
    created = await gw.request("POST", f"/mpu-size/{key}", params={"uploads": ""})
    upload_id = etree.fromstring(created.content).findtext("{*}UploadId") or ""
    etags = []
    for number, data in ((1, PART), (2, TAIL)):
        put = await gw.request(
            "PUT", f"/mpu-size/{key}", params={"partNumber": str(number), "uploadId": upload_id}, body=data
        )
        assert put.status_code == 200, put.text
        etags.append(put.headers["etag"])
    parts = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)
    )
    return upload_id, f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


async def test_object_size_checked_before_commit(inproc: InProcessGateway) -> None:
    gw = inproc
    assert (await gw.request("PUT", "/mpu-size")).status_code == 200
    upload_id, doc = await upload(gw, "sized")
    for wrong in (str(len(PART)), str(len(PART) + len(TAIL) + 1)):
        refused = await gw.request(
            "POST",
            "/mpu-size/sized",
            params={"uploadId": upload_id},
            body=doc,
            headers={"x-amz-mp-object-size": wrong},
        )
        assert_s3_error(refused, 400, "InvalidRequest")
    assert (await gw.request("HEAD", "/mpu-size/sized")).status_code == 404
    bad = await gw.request(
        "POST",
        "/mpu-size/sized",
        params={"uploadId": upload_id},
        body=doc,
        headers={"x-amz-mp-object-size": "-1"},
    )
    assert_s3_error(bad, 400, "InvalidArgument")
    done = await gw.request(
        "POST",
        "/mpu-size/sized",
        params={"uploadId": upload_id},
        body=doc,
        headers={"x-amz-mp-object-size": str(len(PART) + len(TAIL))},
    )
    assert done.status_code == 200, done.text
    head = await gw.request("HEAD", "/mpu-size/sized")
    assert int(head.headers["content-length"]) == len(PART) + len(TAIL)
