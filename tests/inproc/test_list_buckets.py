"""ListBuckets paging in-process: ``max-buckets``, ``continuation-token``, ``prefix`` and ``bucket-region``
as S3 answers them."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio
NS = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}


def names(body: bytes) -> list[str]:
    return [el.text or "" for el in etree.fromstring(body).iterfind("s3:Buckets/s3:Bucket/s3:Name", NS)]


async def test_pages_with_prefix(inproc: InProcessGateway) -> None:
    for name in ("app-a", "app-b", "app-c", "app-d", "other"):
        assert (await inproc.request("PUT", f"/{name}")).status_code == 200
    seen: list[str] = []
    params = {"max-buckets": "3", "prefix": "app-"}
    while True:
        page = await inproc.request("GET", "/", params=params)
        assert page.status_code == 200, page.text
        root = etree.fromstring(page.content)
        assert root.findtext("s3:Prefix", namespaces=NS) == "app-"
        assert len(names(page.content)) <= 3
        seen += names(page.content)
        token = root.findtext("s3:ContinuationToken", namespaces=NS)
        if token is None:
            break
        params = {**params, "continuation-token": token}
    assert seen == ["app-a", "app-b", "app-c", "app-d"]
    everything = await inproc.request("GET", "/")
    root = etree.fromstring(everything.content)
    assert names(everything.content) == ["app-a", "app-b", "app-c", "app-d", "other"]
    assert root.find("s3:ContinuationToken", NS) is None and root.find("s3:Prefix", NS) is None
    assert root.findtext("s3:Buckets/s3:Bucket/s3:BucketRegion", namespaces=NS) == "us-east-1"


async def test_bucket_region_filter(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/here")
    assert names((await inproc.request("GET", "/", params={"bucket-region": "us-east-1"})).content) == [
        "here"
    ]
    assert names((await inproc.request("GET", "/", params={"bucket-region": "eu-west-1"})).content) == []


@pytest.mark.parametrize(
    "params",
    [{"max-buckets": "0"}, {"max-buckets": "10001"}, {"max-buckets": "x"}, {"continuation-token": "!!"}],
    ids=["zero", "too-many", "not-a-number", "bad-token"],
)
async def test_refusals(inproc: InProcessGateway, params: dict[str, str]) -> None:
    assert_s3_error(await inproc.request("GET", "/", params=params), 400, "InvalidArgument")
