"""SSE-S3, SSE-C and bucket default encryption through the app, in-process, over fs wrapped in encrypt.

Bucket ``plain`` routes to the fs backend itself (no encrypt layer): there every SSE header is refused as
before. Every other bucket routes to ``enc``, the encrypt composite over the same fs backend.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from backends.base import ObjectMeta
from backends.composite.encrypt import Encrypt
from backends.composite.keys import Keyring
from backends.fs.backend import FsBackend
from tests.helpers.answers import assert_s3_error
from tests.helpers.bodies import ChunkedBody, pattern, started
from tests.helpers.inproc import InProcessGateway
from tests.helpers.sealv1 import multipart_v1, put_v1

pytestmark = pytest.mark.anyio

MASTER = "ab" * 32
KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def sse_c(
    key: bytes, *, source: bool = False, md5_of: bytes | None = None, algorithm: str = "AES256"
) -> dict[str, str]:
    prefix = "x-amz-copy-source-" if source else "x-amz-"
    return {
        prefix + "server-side-encryption-customer-algorithm": algorithm,
        prefix + "server-side-encryption-customer-key": base64.b64encode(key).decode(),
        prefix + "server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(md5_of if md5_of is not None else key).digest()
        ).decode(),
    }


def sections(allow_http: bool = True) -> dict[str, Any]:
    return {
        "backends": {
            "local": {"type": "fs", "root": "DATA", "fsync": False},
            "enc": {
                "type": "encrypt",
                "backend": "local",
                "key_id": "k1",
                "master_key": MASTER,
                "allow_sse_c_over_http": allow_http,
            },
        },
        "routes": [{"bucket": "plain", "backend": "local"}, {"bucket": "*", "backend": "enc"}],
    }


async def gateway(tmp_path: Path, allow_http: bool = True) -> AsyncIterator[InProcessGateway]:
    doc = sections(allow_http)
    doc["backends"]["local"]["root"] = str(tmp_path / "data")
    async with InProcessGateway.over(tmp_path, **doc) as gw:
        for bucket in ("plain", "sec"):
            assert (await gw.request("PUT", f"/{bucket}")).status_code == 200
        yield gw


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async for g in gateway(tmp_path):
        yield g


async def test_sse_s3_by_default_and_on_request(gw: InProcessGateway, tmp_path: Path) -> None:
    for headers in ({}, {"x-amz-server-side-encryption": "AES256"}):
        put = await gw.request("PUT", "/sec/obj", body=b"hello world", headers=headers)
        assert put.status_code == 200, put.text
        assert put.headers["x-amz-server-side-encryption"] == "AES256"
        got = await gw.request("GET", "/sec/obj")
        assert (got.status_code, got.content) == (200, b"hello world")
        assert got.headers["x-amz-server-side-encryption"] == "AES256"
        assert got.headers["etag"] == put.headers["etag"] and got.headers["content-length"] == "11"
        head = await gw.request("HEAD", "/sec/obj")
        assert head.headers["x-amz-server-side-encryption"] == "AES256"
        assert not any(h.startswith("x-amz-meta-s3bridge") for h in head.headers)
    stored = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert not any(b"hello world" in p.read_bytes() for p in stored)


async def test_sse_c_round_trip_and_refusals(gw: InProcessGateway) -> None:
    data = os.urandom(150_000)
    put = await gw.request("PUT", "/sec/c", body=data, headers=sse_c(KEY))
    assert put.status_code == 200, put.text
    md5 = sse_c(KEY)["x-amz-server-side-encryption-customer-key-md5"]
    assert put.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert put.headers["x-amz-server-side-encryption-customer-key-md5"] == md5
    assert "x-amz-server-side-encryption" not in put.headers
    assert put.headers["etag"].strip('"') != hashlib.md5(data).hexdigest()
    for method in ("GET", "HEAD"):
        assert_s3_error(await gw.request(method, "/sec/c"), 400, "InvalidRequest")
        assert_s3_error(await gw.request(method, "/sec/c", headers=sse_c(OTHER)), 403, "AccessDenied")
    got = await gw.request("GET", "/sec/c", headers=sse_c(KEY))
    assert (got.status_code, got.content) == (200, data)
    assert got.headers["x-amz-server-side-encryption-customer-key-md5"] == md5
    ranged = await gw.request("GET", "/sec/c", headers={**sse_c(KEY), "Range": "bytes=65530-65545"})
    assert (ranged.status_code, ranged.content) == (206, data[65530:65546])
    assert ranged.headers["content-range"] == f"bytes 65530-65545/{len(data)}"
    head = await gw.request("HEAD", "/sec/c", headers=sse_c(KEY))
    assert head.headers["content-length"] == str(len(data))


async def test_copy_with_copy_source_keys(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/sec/src", body=b"copy me", headers=sse_c(KEY))
    no_key = await gw.request("PUT", "/sec/dst", headers={"x-amz-copy-source": "/sec/src"})
    assert_s3_error(no_key, 400, "InvalidRequest")
    copied = await gw.request(
        "PUT",
        "/sec/dst",
        headers={"x-amz-copy-source": "/sec/src", **sse_c(KEY, source=True), **sse_c(OTHER)},
    )
    assert copied.status_code == 200, copied.text
    assert (
        copied.headers["x-amz-server-side-encryption-customer-key-md5"]
        == sse_c(OTHER)["x-amz-server-side-encryption-customer-key-md5"]
    )
    assert (await gw.request("GET", "/sec/dst", headers=sse_c(OTHER))).content == b"copy me"
    assert_s3_error(await gw.request("GET", "/sec/dst", headers=sse_c(KEY)), 403, "AccessDenied")
    # to itself, changing only the encryption: allowed, as on S3
    rekeyed = await gw.request(
        "PUT",
        "/sec/dst",
        headers={
            "x-amz-copy-source": "/sec/dst",
            **sse_c(OTHER, source=True),
            "x-amz-server-side-encryption": "AES256",
        },
    )
    assert rekeyed.status_code == 200, rekeyed.text
    assert rekeyed.headers["x-amz-server-side-encryption"] == "AES256"
    assert (await gw.request("GET", "/sec/dst")).content == b"copy me"


async def test_multipart_sse_c(gw: InProcessGateway) -> None:
    created = await gw.request("POST", "/sec/mp", params={"uploads": ""}, headers=sse_c(KEY))
    assert created.status_code == 200, created.text
    assert created.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    upload = etree.fromstring(created.content).findtext("{*}UploadId")
    params = {"partNumber": "1", "uploadId": upload}
    assert_s3_error(await gw.request("PUT", "/sec/mp", params=params, body=b"part"), 400, "InvalidRequest")
    bad = await gw.request("PUT", "/sec/mp", params=params, body=b"part", headers=sse_c(OTHER))
    assert_s3_error(bad, 403, "AccessDenied")
    part = await gw.request("PUT", "/sec/mp", params=params, body=b"part", headers=sse_c(KEY))
    assert (
        part.status_code == 200
        and part.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    )
    etag = part.headers["etag"]
    body = f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    done = await gw.request(
        "POST", "/sec/mp", params={"uploadId": upload}, body=body.encode(), headers=sse_c(KEY)
    )
    assert done.status_code == 200, done.text
    assert (await gw.request("GET", "/sec/mp", headers=sse_c(KEY))).content == b"part"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({**sse_c(KEY), "x-amz-server-side-encryption-customer-key": "not base64!"}, 400, "InvalidArgument"),
        (sse_c(b"short key"), 400, "InvalidArgument"),
        (sse_c(KEY, md5_of=b"other"), 400, "InvalidArgument"),
        (sse_c(KEY, algorithm="AES128"), 400, "InvalidEncryptionAlgorithmError"),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, 400, "InvalidArgument"),
        ({**sse_c(KEY), "x-amz-server-side-encryption": "AES256"}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "AES512"}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "aws:kms"}, 501, "NotImplemented"),
        ({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, 501, "NotImplemented"),
    ],
    ids=[
        "bad-base64",
        "short-key",
        "md5-mismatch",
        "algorithm",
        "no-key",
        "both-modes",
        "unknown-sse",
        "kms",
        "kms-key",
    ],
)
async def test_invalid_headers(gw: InProcessGateway, headers: dict[str, str], status: int, code: str) -> None:
    assert_s3_error(await gw.request("PUT", "/sec/x", body=b"x", headers=headers), status, code)
    assert_s3_error(await gw.request("HEAD", "/sec/x"), 404, "NoSuchKey")


@pytest.mark.parametrize(
    "headers",
    [{"x-amz-server-side-encryption": "AES256"}, sse_c(KEY)],
    ids=["sse-s3", "sse-c"],
)
async def test_refused_without_an_encrypt_layer(gw: InProcessGateway, headers: dict[str, str]) -> None:
    answer = await gw.request("PUT", "/plain/x", body=b"x", headers=headers)
    assert_s3_error(answer, 501, "NotImplemented")
    assert etree.fromstring(answer.content).findtext("Header") in headers
    put = await gw.request("PUT", "/plain/y", body=b"y")
    assert "x-amz-server-side-encryption" not in put.headers


async def test_sse_c_over_http_refused_unless_allowed(tmp_path: Path) -> None:
    async for gw in gateway(tmp_path, allow_http=False):
        assert_s3_error(
            await gw.request("PUT", "/sec/c", body=b"x", headers=sse_c(KEY)), 400, "InvalidRequest"
        )
        assert (await gw.request("PUT", "/sec/s", body=b"x")).status_code == 200


async def test_bucket_encryption(gw: InProcessGateway) -> None:
    got = await gw.request("GET", "/sec", params={"encryption": ""})
    assert got.status_code == 200, got.text
    assert etree.fromstring(got.content).findtext(".//{*}SSEAlgorithm") == "AES256"
    doc = (
        b'<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
        b"<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
        b"</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"
        b"</ServerSideEncryptionConfiguration>"
    )
    assert (await gw.request("PUT", "/sec", params={"encryption": ""}, body=doc)).status_code == 200
    got = await gw.request("GET", "/sec", params={"encryption": ""})
    assert etree.fromstring(got.content).findtext(".//{*}BucketKeyEnabled") == "true"
    kms = doc.replace(b">AES256<", b">aws:kms<")
    assert_s3_error(
        await gw.request("PUT", "/sec", params={"encryption": ""}, body=kms), 501, "NotImplemented"
    )
    assert_s3_error(
        await gw.request("PUT", "/sec", params={"encryption": ""}, body=b"<x/>"), 400, "MalformedXML"
    )
    assert (await gw.request("DELETE", "/sec", params={"encryption": ""})).status_code == 204
    got = await gw.request("GET", "/sec", params={"encryption": ""})
    assert etree.fromstring(got.content).findtext(".//{*}BucketKeyEnabled") == "false"
    plain = await gw.request("GET", "/plain", params={"encryption": ""})
    assert_s3_error(plain, 404, "ServerSideEncryptionConfigurationNotFoundError")
    assert_s3_error(
        await gw.request("PUT", "/plain", params={"encryption": ""}, body=doc), 501, "NotImplemented"
    )


async def test_copy_out_of_an_encrypting_bucket_stores_plaintext_there(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/sec/obj", body=b"leaving the sealed bucket")
    copied = await gw.request("PUT", "/plain/obj", headers={"x-amz-copy-source": "/sec/obj"})
    assert copied.status_code == 200, copied.text
    assert "x-amz-server-side-encryption" not in copied.headers
    got = await gw.request("GET", "/plain/obj")
    assert got.content == b"leaving the sealed bucket"
    assert "x-amz-server-side-encryption" not in got.headers
    back = await gw.request("PUT", "/sec/back", headers={"x-amz-copy-source": "/plain/obj"})
    assert back.headers["x-amz-server-side-encryption"] == "AES256"
    assert (await gw.request("GET", "/sec/back")).content == b"leaving the sealed bucket"


async def test_objects_of_the_previous_format_and_foreign_bytes(
    gw: InProcessGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Objects the previous release sealed (s3b\\x01) read through the gateway as before (the store's
    ETag); bytes that are no sealed format under the layer's metadata answer 500 InternalError with the
    S3 error document (an object the gateway cannot serve), never a traceback or wrong data."""
    single, parts = pattern(150_000, 5), [pattern(5 * 1024 * 1024, 6), pattern(99, 7)]
    store = FsBackend(tmp_path / "data", name="same-store", fsync=False)
    async for inner in started(store):
        writer = Encrypt(inner, Keyring("k1", {"k1": bytes.fromhex(MASTER)}), name="v1-writer")
        stored = await put_v1(writer, "sec", "v1", single)
        stored_multi = await multipart_v1(writer, "sec", "v1-multi", parts)
        meta = (await inner.head_object("sec", "v1")).meta
        await inner.put_object(
            "sec", "foreign", ChunkedBody(b"not sealed at all " * 10), ObjectMeta(user=meta.user)
        )
    got = await gw.request("GET", "/sec/v1")
    assert (got.status_code, got.content, got.headers["etag"]) == (200, single, f'"{stored.etag}"')
    assert got.headers["x-amz-server-side-encryption"] == "AES256"
    ranged = await gw.request("GET", "/sec/v1-multi", headers={"Range": "bytes=5242870-5242889"})
    assert (ranged.status_code, ranged.content) == (206, b"".join(parts)[5242870:5242890])
    head = await gw.request("HEAD", "/sec/v1-multi")
    assert (head.headers["content-length"], head.headers["etag"]) == (
        str(5 * 1024 * 1024 + 99),
        f'"{stored_multi.etag}"',
    )
    copied = await gw.request("PUT", "/sec/copy", headers={"x-amz-copy-source": "/sec/v1-multi"})
    assert copied.status_code == 200, copied.text
    assert (await gw.request("GET", "/sec/copy")).content == b"".join(parts)
    caplog.set_level(logging.DEBUG, "s3bridge")
    for method, headers in (("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-4"})):
        answer = await gw.request(method, "/sec/foreign", headers=headers)
        assert answer.status_code == 500 and b"not sealed" not in answer.content
        if method == "GET":
            assert_s3_error(answer, 500, "InternalError")
    noted = [r for r in caplog.records if r.name == "s3bridge" and "IntegrityError" in r.getMessage()]
    assert len(noted) == 3 and all(r.levelno == logging.WARNING and not r.exc_info for r in noted)
    listed = await gw.request("GET", "/sec", params={"list-type": "2"})
    assert listed.status_code == 200 and b"<Key>foreign</Key>" in listed.content
