"""Reading the gateway's raw HTTP answers: S3's XML error document and its fields."""

from __future__ import annotations

import httpx
from lxml import etree


def error_code(response: httpx.Response) -> str | None:
    """The ``<Code>`` of an S3 error document."""
    return etree.fromstring(response.content).findtext("Code")


def assert_s3_error(response: httpx.Response, status: int, code: str) -> None:
    """``status`` with S3's error document for ``code``, naming the request id the headers carry (a HEAD
    answer has no body to check)."""
    assert response.status_code == status, response.text
    if response.request.method != "HEAD":
        doc = etree.fromstring(response.content)
        assert doc.findtext("Code") == code
        assert doc.findtext("RequestId") == response.headers["x-amz-request-id"]
