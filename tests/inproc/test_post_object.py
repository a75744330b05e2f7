"""POST object in-process: anonymous form uploads where the configuration allows them (a bucket
configured public read-write), refused elsewhere; the form's acl and tagging fields judged as their
headers are; virtual-host addressing of the form's target."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gw(tmp_path: Path) -> InProcessGateway:
    public = [{"bucket": "drop", "access": "read-write"}, {"bucket": "show", "access": "read"}]
    async with InProcessGateway.over(tmp_path, public_buckets=public, server={"domains": ["s3.test"]}) as gw:
        for bucket in ("drop", "show"):
            assert (await gw.request("PUT", f"/{bucket}")).status_code == 200
        yield gw


async def test_anonymous_form_on_a_read_write_bucket(gw: InProcessGateway) -> None:
    answer = await gw.client.post(
        "/drop", data={"key": "anon.txt", "Content-Type": "text/plain"}, files={"file": ("a", b"anonymous")}
    )
    assert answer.status_code == 204, answer.text
    assert answer.headers["location"] == "http://127.0.0.1:9000/drop/anon.txt"
    got = await gw.request("GET", "/drop/anon.txt")
    assert (got.content, got.headers["content-type"]) == (b"anonymous", "text/plain")


async def test_anonymous_form_on_a_read_only_public_bucket_is_refused(gw: InProcessGateway) -> None:
    answer = await gw.client.post("/show", data={"key": "anon.txt"}, files={"file": ("a", b"x")})
    assert_s3_error(answer, 403, "AccessDenied")
    assert_s3_error(await gw.request("HEAD", "/show/anon.txt"), 404, "NoSuchKey")


def _tagging(*pairs: tuple[str, str]) -> str:
    tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>"


async def test_tagging_field_tags_the_object(gw: InProcessGateway) -> None:
    form = {"key": "tagged", "tagging": _tagging(("team", "blue"), ("tier", "gold"))}
    answer = await gw.client.post("/drop", data=form, files={"file": ("a", b"x")})
    assert answer.status_code == 204, answer.text
    assert (await gw.request("HEAD", "/drop/tagged")).headers["x-amz-tagging-count"] == "2"
    got = await gw.request("GET", "/drop/tagged?tagging")
    assert b"<Key>team</Key><Value>blue</Value>" in got.content


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"acl": "public-read"}, 400, "AccessControlListNotSupported"),
        ({"acl": "private"}, 204, None),
        ({"acl": "bucket-owner-full-control"}, 204, None),
        ({"tagging": "<Tagging><TagSet><Tag><Key>k</Key></TagSet>"}, 400, "MalformedXML"),
        ({"tagging": _tagging(("aws:k", "v"))}, 400, "InvalidTag"),
        ({"x-amz-server-side-encryption": "AES256"}, 501, "NotImplemented"),
        ({"x-amz-storage-class": "NOPE"}, 400, "InvalidStorageClass"),
        ({"x-amz-meta-big": "x" * 3000}, 400, "MetadataTooLarge"),
    ],
)
async def test_fields_judged_as_their_headers(
    gw: InProcessGateway, fields: dict[str, str], status: int, code: str | None
) -> None:
    answer = await gw.client.post("/drop", data={"key": "f", **fields}, files={"file": ("a", b"x")})
    if code is None:
        assert answer.status_code == status, answer.text
    else:
        assert_s3_error(answer, status, code)
        assert_s3_error(await gw.request("HEAD", "/drop/f"), 404, "NoSuchKey")


async def test_virtual_host_form_and_created_answer(gw: InProcessGateway) -> None:
    answer = await gw.client.post(
        "/", headers={"Host": "drop.s3.test"},
        data={"key": "dir/a b.txt", "success_action_status": "201"}, files={"file": ("a", b"vh")},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == "http://drop.s3.test/dir/a%20b.txt"
    assert b"<PostResponse><Location>http://drop.s3.test/dir/a%20b.txt</Location>" in answer.content
    assert (await gw.request("GET", "/drop/dir/a%20b.txt")).content == b"vh"
