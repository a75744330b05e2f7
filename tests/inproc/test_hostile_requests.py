"""Requests shaped to slip past the gateway, in-process: request targets that name no bucket, keys XML
cannot carry, a limited key outside its buckets. Each case was found by probing from outside and answered
500, or 200 while doing nothing; each must get the S3 error AWS sends, never a silent success.

(The end-to-end twin, ``tests/e2e/test_hostile_requests.py``, sends a few of these through uvicorn.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from lxml import etree

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio

ADMIN = ("hostile-admin", "hostile-admin-secret-0123456789")
LIMITED = ("hostile-limited", "hostile-limited-secret-0123456789")
CREDENTIALS = [
    {"access_key": ADMIN[0], "secret_key": ADMIN[1]},
    {
        "access_key": LIMITED[0],
        "secret_key": LIMITED[1],
        "buckets": [{"bucket": "mine-*", "rights": ["read", "write", "list"]}],
    },
]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with InProcessGateway.over(tmp_path, credentials=CREDENTIALS) as gateway:
        for method, path, body in [
            ("PUT", "/b-one", b""),
            ("PUT", "/b-one/secret.txt", b"top secret"),
            ("PUT", "/mine-1", b""),
        ]:
            assert (await gateway.request(method, path, body=body, pair=ADMIN)).status_code == 200
        yield gateway


async def raw(gw: InProcessGateway, pair: tuple[str, str], method: str, target: str) -> httpx.Response:
    return await gw.request(method, target, pair=pair)


# -- a request target that names no bucket ------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
@pytest.mark.parametrize("target", ["//x", "//b-one/secret.txt", "//b-one", "//"])
@pytest.mark.parametrize("who", ["admin", "limited"])
async def test_empty_bucket_segment_is_refused(
    gw: InProcessGateway, method: str, target: str, who: str
) -> None:
    pair = ADMIN if who == "admin" else LIMITED
    response = await raw(gw, pair, method, target)
    assert_s3_error(response, 400, "InvalidBucketName")
    assert b"top secret" not in response.content
    # nothing was written or removed by it
    kept = await gw.request("GET", "/b-one/secret.txt", pair=ADMIN)
    assert kept.content == b"top secret"
    line = gw.access.lines[-2]
    assert (line["status"], line["error"], line["key_id"]) == (400, "InvalidBucketName", None)


async def test_limited_key_gets_nothing_outside_its_buckets(gw: InProcessGateway) -> None:
    for method, target in [("GET", "/b-one/secret.txt"), ("GET", "/b-one"), ("GET", "/b-one?acl")]:
        assert_s3_error(await raw(gw, LIMITED, method, target), 403, "AccessDenied")
    # a sub-resource the gateway does not implement is still authorised first
    assert_s3_error(await raw(gw, LIMITED, "PUT", "/b-one?website"), 403, "AccessDenied")
    assert_s3_error(await raw(gw, ADMIN, "PUT", "/b-one?website"), 501, "NotImplemented")
    # inside its buckets it may work
    assert (await raw(gw, LIMITED, "PUT", "/mine-1/k")).status_code == 200


# -- keys with characters XML 1.0 cannot carry --------------------------------------------------------
CONTROL_KEYS = ["ctl/a\x01b", "ctl/us\x1fz", "ctl/vt\x0b", "ctl/esc\x1b[0m", "ctl/plain"]


def quoted(key: str) -> str:
    return quote(key, safe="/-_.~")


def listed(content: bytes, element: str = "Key") -> list[str]:
    return [e.text or "" for e in etree.fromstring(content).iter(f"{{*}}{element}")]


async def test_control_character_keys_list_for_everyone(gw: InProcessGateway) -> None:
    assert (await raw(gw, ADMIN, "PUT", "/ctl")).status_code == 200
    for key in CONTROL_KEYS:
        put = await gw.request("PUT", f"/ctl/{quoted(key)}", body=key.encode(), pair=ADMIN)
        assert put.status_code == 200, put.text
    created = await raw(gw, ADMIN, "POST", "/ctl/up%01load?uploads")
    assert created.status_code == 200 and b"<Key>up&#x1;load</Key>" in created.content
    upload_id = created.text.split("<UploadId>")[1].split("</UploadId>")[0]  # XML 1.0 cannot parse it
    # with encoding-type=url every key comes back exactly
    for query in ("list-type=2&encoding-type=url", "encoding-type=url", "versions&encoding-type=url"):
        response = await raw(gw, ADMIN, "GET", f"/ctl?{query}")
        assert response.status_code == 200, response.text
        assert sorted(unquote(k) for k in listed(response.content)) == sorted(CONTROL_KEYS)
    uploads = await raw(gw, ADMIN, "GET", "/ctl?uploads&encoding-type=url")
    assert listed(uploads.content) == ["up%01load"]
    for key in CONTROL_KEYS:
        got = await gw.request("GET", f"/ctl/{quoted(key)}", pair=ADMIN)
        assert got.content == key.encode()
    # without encoding-type the answer carries them as character references, as S3 does, never a 500
    for query in ("list-type=2", "", "versions", "uploads"):
        response = await raw(gw, ADMIN, "GET", f"/ctl?{query}" if query else "/ctl")
        assert response.status_code == 200, response.text
        assert b"&#x1;" in response.content
        assert b"\x01" not in response.content
    aborted = await gw.request("DELETE", "/ctl/up%01load", params={"uploadId": upload_id}, pair=ADMIN)
    assert aborted.status_code == 204
    # an error naming such a key is an XML document too
    missing = await raw(gw, ADMIN, "GET", "/ctl/gone%01key")
    assert missing.status_code == 404 and b"<Code>NoSuchKey</Code>" in missing.content
