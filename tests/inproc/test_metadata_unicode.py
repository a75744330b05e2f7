"""User metadata with non-ASCII values in-process: signed and stored as S3 does, whichever byte spelling
the client sent, and answered RFC 2047 encoded as S3 answers it."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio

VALUE = "héllo € 日本"


def rfc2047(value: str) -> str:
    return "=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?="


async def put_with_meta(gw: InProcessGateway, signed: str, sent: bytes, signer: str = "v4") -> httpx.Response:
    """PUT an object whose ``x-amz-meta-m`` was signed as ``signed`` and goes on the wire as ``sent``."""
    await gw.request("PUT", "/bkt")
    return await gw.request(
        "PUT",
        "/bkt/obj",
        body=b"x",
        headers={"x-amz-meta-m": signed},
        signer=signer,
        send_headers={"x-amz-meta-m": sent},  # type: ignore[dict-item]
    )


@pytest.mark.parametrize("signer", ["v4", "v2"])
async def test_utf8_bytes_on_the_wire(inproc: InProcessGateway, signer: str) -> None:
    """Go, JS and curl send the UTF-8 bytes of the value they signed."""
    put = await put_with_meta(inproc, VALUE, VALUE.encode(), signer)
    assert put.status_code == 200, put.text
    for method in ("HEAD", "GET"):
        read = await inproc.request(method, "/bkt/obj")
        assert read.headers["x-amz-meta-m"] == rfc2047(VALUE)


async def test_latin1_bytes_on_the_wire(inproc: InProcessGateway) -> None:
    """Python's http.client sends ISO-8859-1 bytes of a value whose UTF-8 encoding it signed."""
    put = await put_with_meta(inproc, "José", "José".encode("latin-1"))
    assert put.status_code == 200, put.text
    read = await inproc.request("HEAD", "/bkt/obj")
    assert read.headers["x-amz-meta-m"] == rfc2047("José")


async def test_altered_value_still_fails(inproc: InProcessGateway) -> None:
    put = await put_with_meta(inproc, VALUE, "hällo € 日本".encode())
    assert put.status_code == 403
    assert b"SignatureDoesNotMatch" in put.content
