"""Addressing in-process: virtual-hosted buckets, a reverse proxy's public host and path prefix, the
forwarded headers a gateway must not trust by default, and the request shapes clients send."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.helpers.inproc import HOST, InProcessGateway

pytestmark = pytest.mark.anyio


async def test_virtual_hosted_style(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path, server={"domains": ["s3.example.test"]}) as gw:
        host = "vhost-bkt.s3.example.test:9000"
        assert (await gw.request("PUT", "/", host=host)).status_code == 200
        put = await gw.request("PUT", "/dir/a%20b.txt", body=b"virtual", host=host)
        assert put.status_code == 200
        got = await gw.request("GET", "/dir/a%20b.txt", host=host)
        assert got.status_code == 200 and got.content == b"virtual"
        listing = await gw.request("GET", "/", params={"list-type": "2"}, host=host)
        assert b"<Key>dir/a b.txt</Key>" in listing.content
        # the same object, path-style
        path_style = await gw.request("GET", "/vhost-bkt/dir/a%20b.txt")
        assert path_style.content == b"virtual"
        # a virtual host's health-looking path is an object key, not the health endpoint
        missing = await gw.request("GET", "/_s3bridge/health/live", host=host)
        assert missing.status_code == 404 and b"NoSuchKey" in missing.content
        line = gw.access.lines[-1]
        assert (line["operation"], line["bucket"], line["status"]) == ("GetObject", "vhost-bkt", 404)


async def test_behind_reverse_proxy(tmp_path: Path) -> None:
    """Clients sign the proxy's public host and path prefix; the gateway checks what they signed."""
    async with InProcessGateway.over(tmp_path, server={"trust_forwarded": True, "path_prefix": "/s3"}) as gw:
        public = "storage.example.test"
        forwarded = {"X-Forwarded-Host": public, "X-Forwarded-Proto": "https"}
        for path, body in [("/s3/proxied", b""), ("/s3/proxied/k", b"through a proxy")]:
            r = await gw.request("PUT", path, body=body, host=public, scheme="https", send_headers=forwarded)
            assert r.status_code == 200, r.text
        r = await gw.request(
            "GET", "/s3/proxied/k", host=public, scheme="https", send_headers={"X-Forwarded-Host": public}
        )
        assert r.content == b"through a proxy"
        # signed for the proxy host but sent without the forwarded header: refused
        r = await gw.request("GET", "/s3/proxied/k", host=public, scheme="https", send_headers={"Host": HOST})
        assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content


async def test_forwarded_host_ignored_unless_trusted(inproc: InProcessGateway) -> None:
    assert (await inproc.request("PUT", "/fwd")).status_code == 200
    assert (await inproc.request("PUT", "/fwd/k", body=b"v")).status_code == 200
    evil = "evil.example.test"
    r = await inproc.request(
        "GET", "/fwd/k", host=evil, send_headers={"Host": HOST, "X-Forwarded-Host": evil}
    )
    assert r.status_code == 403
    assert etree.fromstring(r.content).findtext("Code") == "SignatureDoesNotMatch"


async def test_tolerated_request_shapes(inproc: InProcessGateway) -> None:
    """A trailing ``/`` after the bucket, the JS SDK's ``?x-id=``, and ``uploads=`` with an empty value."""
    gw = inproc
    assert (await gw.request("PUT", "/shape/")).status_code == 200
    put = await gw.request("PUT", "/shape/k", params={"x-id": "PutObject"}, body=b"shaped")
    assert put.status_code == 200
    got = await gw.request("GET", "/shape/k", params={"x-id": "GetObject"})
    assert got.status_code == 200 and got.content == b"shaped"
    listed = await gw.request("GET", "/shape/", params=[("list-type", "2"), ("x-id", "ListObjectsV2")])
    assert b"<Key>k</Key>" in listed.content
    created = await gw.request("POST", "/shape/mp", params={"uploads": ""})
    assert created.status_code == 200 and b"<UploadId>" in created.content
    upload_id = etree.fromstring(created.content).findtext("{*}UploadId")
    assert upload_id
    aborted = await gw.request("DELETE", "/shape/mp", params={"uploadId": upload_id})
    assert aborted.status_code == 204
    assert (await gw.request("DELETE", "/shape/k")).status_code == 204
    assert (await gw.request("DELETE", "/shape")).status_code == 204
    operations = [line["operation"] for line in gw.access.lines]
    assert operations == [
        "CreateBucket",
        "PutObject",
        "GetObject",
        "ListObjectsV2",
        "CreateMultipartUpload",
        "AbortMultipartUpload",
        "DeleteObject",
        "DeleteBucket",
    ]
