"""Object answers in-process: conditions (GET, HEAD, PUT, a copy's source), ranges, response overrides,
and the XML error document with the headers S3 sends beside it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from email.utils import format_datetime

import httpx
import pytest
from lxml import etree

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio

PAST = format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), usegmt=True)
FUTURE = format_datetime(dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc), usegmt=True)  # stable test ids


async def stored(gw: InProcessGateway, key: str = "c", body: bytes = b"data") -> str:
    """Create bucket ``bkt`` (once) and ``key`` in it; the object's quoted ETag."""
    await gw.request("PUT", "/bkt")
    put = await gw.request("PUT", f"/bkt/{key}", body=body)
    assert put.status_code == 200, put.text
    return put.headers["etag"]


def condition(response: httpx.Response) -> str | None:
    return etree.fromstring(response.content).findtext("Condition")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("headers", "status", "failed"),
    [
        ({"If-Match": "ETAG"}, 200, None),
        ({"If-Match": '"0000"'}, 412, "If-Match"),
        ({"If-Match": '"0000", ETAG'}, 200, None),
        ({"If-Match": "*"}, 200, None),
        ({"If-None-Match": "ETAG"}, 304, "If-None-Match"),
        ({"If-None-Match": "W/ETAG"}, 304, "If-None-Match"),
        ({"If-None-Match": '"0000"'}, 200, None),
        ({"If-Modified-Since": FUTURE}, 304, "If-Modified-Since"),
        ({"If-Modified-Since": PAST}, 200, None),
        ({"If-Unmodified-Since": PAST}, 412, "If-Unmodified-Since"),
        ({"If-Unmodified-Since": FUTURE}, 200, None),
        ({"If-Modified-Since": "not a date"}, 200, None),
        # If-Match true wins over If-Unmodified-Since false; If-None-Match false over If-Modified-Since
        ({"If-Match": "ETAG", "If-Unmodified-Since": PAST}, 200, None),
        ({"If-None-Match": '"0000"', "If-Modified-Since": FUTURE}, 200, None),
        ({"If-Match": '"0000"', "If-None-Match": "ETAG"}, 412, "If-Match"),
    ],
)
async def test_read_conditions(
    inproc: InProcessGateway, method: str, headers: dict[str, str], status: int, failed: str | None
) -> None:
    etag = await stored(inproc)
    sent = {name: value.replace("ETAG", etag) for name, value in headers.items()}
    response = await inproc.request(method, "/bkt/c", headers=sent)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.headers["etag"] == etag
        assert response.content == (b"data" if method == "GET" else b"")
    elif status == 304:
        assert response.content == b""
        assert response.headers["x-amz-request-id"]
    else:
        assert_s3_error(response, 412, "PreconditionFailed")
        if method == "GET":
            assert condition(response) == failed
    line = inproc.access.lines[-1]
    assert (line["operation"], line["status"]) == ("GetObject" if method == "GET" else "HeadObject", status)


async def test_put_if_none_match_star_refuses_an_overwrite(inproc: InProcessGateway) -> None:
    await stored(inproc)
    refused = await inproc.request("PUT", "/bkt/c", headers={"If-None-Match": "*"}, body=b"new")
    assert_s3_error(refused, 412, "PreconditionFailed")
    assert (await inproc.request("GET", "/bkt/c")).content == b"data"
    created = await inproc.request("PUT", "/bkt/fresh", headers={"If-None-Match": "*"}, body=b"new")
    assert created.status_code == 200


@pytest.mark.parametrize(
    ("header", "value", "failed"),
    [
        ("x-amz-copy-source-if-match", "ETAG", None),
        ("x-amz-copy-source-if-match", '"0000"', "x-amz-copy-source-If-Match"),
        # a copy's failed read condition is a 412, not a 304
        ("x-amz-copy-source-if-none-match", "ETAG", "x-amz-copy-source-If-None-Match"),
        ("x-amz-copy-source-if-modified-since", FUTURE, "x-amz-copy-source-If-Modified-Since"),
        ("x-amz-copy-source-if-unmodified-since", PAST, "x-amz-copy-source-If-Unmodified-Since"),
        ("x-amz-copy-source-if-unmodified-since", FUTURE, None),
    ],
)
async def test_copy_source_conditions(
    inproc: InProcessGateway, header: str, value: str, failed: str | None
) -> None:
    etag = await stored(inproc)
    headers = {"x-amz-copy-source": "/bkt/c", header: value.replace("ETAG", etag)}
    response = await inproc.request("PUT", "/bkt/copy", headers=headers)
    if failed is None:
        assert response.status_code == 200, response.text
        assert etree.fromstring(response.content).findtext("{*}ETag") == etag
        assert (await inproc.request("GET", "/bkt/copy")).content == b"data"
    else:
        assert_s3_error(response, 412, "PreconditionFailed")
        assert condition(response) == failed
        assert (await inproc.request("HEAD", "/bkt/copy")).status_code == 404


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-5", 1019, 1023),
        ("bytes=1020-5000", 1020, 1023),
    ],
)
async def test_ranges(inproc: InProcessGateway, header: str, first: int, last: int) -> None:
    body = bytes(range(256)) * 4
    await stored(inproc, "r", body)
    got = await inproc.request("GET", "/bkt/r", headers={"Range": header})
    assert got.status_code == 206
    assert got.content == body[first : last + 1]
    assert got.headers["content-range"] == f"bytes {first}-{last}/{len(body)}"
    assert got.headers["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=", "items=0-1", "bytes=0-1,4-5"])
async def test_unusable_range_serves_the_whole_object(inproc: InProcessGateway, header: str) -> None:
    await stored(inproc, "r", b"0123456789")
    got = await inproc.request("GET", "/bkt/r", headers={"Range": header})
    assert (got.status_code, got.content) == (200, b"0123456789")


async def test_range_past_the_end_is_416(inproc: InProcessGateway) -> None:
    await stored(inproc, "r", b"0123456789")
    assert_s3_error(
        await inproc.request("GET", "/bkt/r", headers={"Range": "bytes=10-20"}), 416, "InvalidRange"
    )


async def test_response_overrides(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    await inproc.request("PUT", "/bkt/o", body=b"x", headers={"Content-Type": "text/plain"})
    params = {"response-content-type": "image/png", "response-content-disposition": "inline"}
    got = await inproc.request("GET", "/bkt/o", params=params)
    assert got.headers["content-type"] == "image/png" and got.headers["content-disposition"] == "inline"
    assert (await inproc.request("GET", "/bkt/o")).headers["content-type"] == "text/plain"


async def test_error_body_is_s3_xml(inproc: InProcessGateway) -> None:
    """(Moved from the e2e suite: a presigned GET of a missing key, as raw HTTP.)"""
    await inproc.request("PUT", "/bkt")
    r = await inproc.request("GET", "/bkt/missing", signer="v4-query", expires=60)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(r.content)
    assert (doc.findtext("Code"), doc.findtext("Resource")) == ("NoSuchKey", "/bkt/missing")
    assert doc.findtext("RequestId") == r.headers["x-amz-request-id"] == r.headers["x-amz-id-2"]
    assert r.headers["x-s3bridge-backend"] == "local"


async def test_unsigned_request_refused(inproc: InProcessGateway) -> None:
    """(Moved from the e2e suite.)"""
    await inproc.request("PUT", "/bkt")
    assert_s3_error(await inproc.request("GET", "/bkt", signer=None), 403, "AccessDenied")
    line = inproc.access.lines[-1]
    assert (line["key_id"], line["status"], line["error"]) == (None, 403, "AccessDenied")


@pytest.mark.parametrize("signer", ["v4", "v4-query", "v2", "v2-query"])
async def test_wrong_secret_and_unknown_key(inproc: InProcessGateway, signer: str) -> None:
    await inproc.request("PUT", "/bkt")
    wrong = await inproc.request("GET", "/bkt", signer=signer, pair=("e2e-access-key", "wrong"))
    assert_s3_error(wrong, 403, "SignatureDoesNotMatch")
    unknown = await inproc.request("GET", "/bkt", signer=signer, pair=("nobody", "whatever"))
    assert_s3_error(unknown, 403, "InvalidAccessKeyId")


async def test_bad_content_md5_stores_nothing(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    refused = await inproc.request("PUT", "/bkt/md5", body=b"payload", headers={"Content-MD5": wrong})
    assert_s3_error(refused, 400, "BadDigest")
    assert (await inproc.request("HEAD", "/bkt/md5")).status_code == 404
    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    assert (
        await inproc.request("PUT", "/bkt/md5", body=b"payload", headers={"Content-MD5": right})
    ).status_code == 200
