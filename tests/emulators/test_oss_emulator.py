"""The OSS emulator's own strictness: signatures, addressing, unimplemented operations, multipart rules.

A real emulator process, driven by oss2 (the SDK the backend uses) and by raw httpx requests for what
oss2 would never send (path-style, unsigned).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import oss2
import pytest
from oss2.models import PartInfo

from backends.oss.support import make_session
from tests.helpers.emulated import OSS_AK as AK
from tests.helpers.emulated import OSS_DOMAIN as DOMAIN
from tests.helpers.emulated import OSS_REGION as REGION
from tests.helpers.emulated import OSS_SK as SK
from tests.helpers.emulated import oss_emulator
from tests.helpers.procs import ServerProcess


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = oss_emulator(tmp_path_factory.mktemp("oss-emu")).start()
    try:
        yield server
    finally:
        server.stop()


def _bucket(server: ServerProcess, name: str, auth: oss2.Auth | oss2.AuthV4 | None = None) -> oss2.Bucket:
    return oss2.Bucket(
        auth or oss2.AuthV4(AK, SK),
        f"http://{DOMAIN}:{server.port}",
        name,
        session=make_session(2, "127.0.0.1"),
        region=REGION,
        connect_timeout=10,
    )


@pytest.fixture
def bucket(emulator: ServerProcess) -> oss2.Bucket:
    b = _bucket(emulator, f"emu-{uuid.uuid4().hex[:8]}")
    b.create_bucket()
    return b


def _raw(server: ServerProcess, method: str, path: str, host: str, **kw: object) -> httpx.Response:
    return httpx.request(method, f"http://127.0.0.1:{server.port}{path}", headers={"Host": host}, **kw)  # type: ignore[arg-type]


def _error_xml(resp: httpx.Response) -> ET.Element:
    root = ET.fromstring(resp.content)
    assert root.tag == "Error"  # no namespace
    assert root.findtext("RequestId") == resp.headers["x-oss-request-id"]
    assert root.findtext("HostId")
    return root


@pytest.mark.parametrize("auth", [oss2.Auth(AK, SK), oss2.AuthV4(AK, SK)], ids=["v1", "v4"])
def test_signatures_accepted(emulator: ServerProcess, auth: oss2.Auth) -> None:
    b = _bucket(emulator, f"sig-{uuid.uuid4().hex[:8]}", auth)
    b.create_bucket()
    b.put_object("a b/c+d", b"payload", headers={"x-oss-meta-k": "v"})
    got = b.get_object("a b/c+d")
    assert got.read() == b"payload"
    assert got.headers["x-oss-meta-k"] == "v"
    assert got.headers["ETag"] == '"' + "321C3CF486ED509164EDEC1E1981FEC8" + '"'


@pytest.mark.parametrize("auth", [oss2.Auth(AK, "wrong"), oss2.AuthV4(AK, "wrong")], ids=["v1", "v4"])
def test_wrong_secret_refused(emulator: ServerProcess, bucket: oss2.Bucket, auth: oss2.Auth) -> None:
    b = _bucket(emulator, bucket.bucket_name, auth)
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        b.put_object("k", b"x")
    assert (caught.value.status, caught.value.code) == (403, "SignatureDoesNotMatch")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("k")


def test_wrong_access_key_refused(emulator: ServerProcess, bucket: oss2.Bucket) -> None:
    b = _bucket(emulator, bucket.bucket_name, oss2.AuthV4("nobody", SK))
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        b.get_bucket_info()
    assert (caught.value.status, caught.value.code) == (403, "InvalidAccessKeyId")


def test_v4_wrong_region_refused(emulator: ServerProcess, bucket: oss2.Bucket) -> None:
    b = oss2.Bucket(
        oss2.AuthV4(AK, SK),
        f"http://{DOMAIN}:{emulator.port}",
        bucket.bucket_name,
        session=make_session(2, "127.0.0.1"),
        region="us-west-1",
    )
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        b.get_bucket_info()
    assert caught.value.status == 400


def test_unsigned_request_refused(emulator: ServerProcess, bucket: oss2.Bucket) -> None:
    resp = _raw(emulator, "GET", "/?list-type=2", f"{bucket.bucket_name}.{DOMAIN}")
    assert resp.status_code == 403
    assert _error_xml(resp).findtext("Code") == "AccessDenied"


def test_tampered_request_refused(emulator: ServerProcess, bucket: oss2.Bucket) -> None:
    """A signature for one key does not authorise another (the resource is signed)."""
    bucket.put_object("one", b"1")
    bucket.put_object("two", b"2")
    auth = oss2.Auth(AK, SK)
    req = oss2.http.Request("GET", "http://x/one", headers={})
    auth._sign_request(req, bucket.bucket_name, "one")
    resp = httpx.get(
        f"http://127.0.0.1:{emulator.port}/two",
        headers={
            "Host": f"{bucket.bucket_name}.{DOMAIN}",
            "Date": req.headers["date"],
            "Authorization": req.headers["authorization"],
        },
    )
    assert resp.status_code == 403
    assert _error_xml(resp).findtext("Code") == "SignatureDoesNotMatch"
    ok = httpx.get(
        f"http://127.0.0.1:{emulator.port}/one",
        headers={
            "Host": f"{bucket.bucket_name}.{DOMAIN}",
            "Date": req.headers["date"],
            "Authorization": req.headers["authorization"],
        },
    )
    assert (ok.status_code, ok.content) == (200, b"1")


def test_path_style_refused(emulator: ServerProcess, bucket: oss2.Bucket) -> None:
    resp = _raw(emulator, "GET", f"/{bucket.bucket_name}/k", f"127.0.0.1:{emulator.port}")
    assert resp.status_code == 403
    assert _error_xml(resp).findtext("Code") == "SecondLevelDomainForbidden"


def test_unimplemented_operation_refused(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.get_bucket_acl()
    assert (caught.value.status, caught.value.code) == (501, "NotImplemented")
    bucket.put_object("k", b"x")
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.put_symlink("k", "link")
    assert caught.value.status == 501


def test_head_error_carries_x_oss_err(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NoSuchKey) as caught:
        bucket.head_object("missing")
    assert caught.value.code == "NoSuchKey"


def test_content_md5_checked(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.put_object("k", b"data", headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    assert caught.value.code == "InvalidDigest"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("k")


def test_multipart_minimum_part_and_etags(bucket: oss2.Bucket) -> None:
    upload = bucket.init_multipart_upload("mp").upload_id
    small = bucket.upload_part("mp", upload, 1, b"a" * (100 * 1024 - 1))
    last = bucket.upload_part("mp", upload, 2, b"tail")
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.complete_multipart_upload("mp", upload, [PartInfo(1, small.etag), PartInfo(2, last.etag)])
    assert caught.value.code == "EntityTooSmall"
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.complete_multipart_upload("mp", upload, [PartInfo(1, "0" * 32), PartInfo(2, last.etag)])
    assert caught.value.code == "InvalidPart"
    big = bucket.upload_part("mp", upload, 1, b"a" * (100 * 1024))
    done = bucket.complete_multipart_upload("mp", upload, [PartInfo(1, big.etag), PartInfo(2, last.etag)])
    assert done.etag.endswith("-2") and done.etag == done.etag.upper()
    assert bucket.get_object("mp").read() == b"a" * (100 * 1024) + b"tail"


def test_part_order_checked(emulator: ServerProcess, bucket: oss2.Bucket) -> None:
    """oss2 sorts parts itself, so send the document by hand, signed by oss2."""
    upload = bucket.init_multipart_upload("o").upload_id
    p1 = bucket.upload_part("o", upload, 1, b"x" * (100 * 1024))
    p2 = bucket.upload_part("o", upload, 2, b"y")
    body = (
        f'<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"{p2.etag}"</ETag></Part>'
        f'<Part><PartNumber>1</PartNumber><ETag>"{p1.etag}"</ETag></Part></CompleteMultipartUpload>'
    ).encode()
    req = oss2.http.Request(
        "POST", "http://x/o", params={"uploadId": upload}, headers={"Content-Type": "application/xml"}
    )
    oss2.Auth(AK, SK)._sign_request(req, bucket.bucket_name, "o")
    resp = httpx.post(
        f"http://127.0.0.1:{emulator.port}/o?uploadId={upload}",
        content=body,
        headers={"Host": f"{bucket.bucket_name}.{DOMAIN}", **{k: v for k, v in req.headers.items() if v}},
    )
    assert resp.status_code == 400
    assert _error_xml(resp).findtext("Code") == "InvalidPartOrder"


def test_range_behaviour(bucket: oss2.Bucket) -> None:
    bucket.put_object("r", b"0123456789")
    assert bucket.get_object("r", byte_range=(2, 4)).read() == b"234"
    # without x-oss-range-behavior: standard, OSS ignores an unsatisfiable range
    assert bucket.get_object("r", byte_range=(20, 30)).read() == b"0123456789"
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.get_object("r", byte_range=(20, 30), headers={"x-oss-range-behavior": "standard"})
    assert (caught.value.status, caught.value.code) == (416, "InvalidRange")


def test_conditional_get(bucket: oss2.Bucket) -> None:
    result = bucket.put_object("c", b"body")
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.get_object("c", headers={"If-Match": '"0000"'})
    assert caught.value.status == 412
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-None-Match": f'"{result.etag}"'})


def test_data_dir_is_used(tmp_path: Path) -> None:
    with oss_emulator(tmp_path) as server:
        b = _bucket(server, "persist")
        b.create_bucket()
        b.put_object("k", b"stored on disk")
    assert any(p.read_bytes() == b"stored on disk" for p in (tmp_path / "data" / "data").iterdir())


def _tagging(*pairs: tuple[str, str]) -> oss2.models.Tagging:
    rule = oss2.models.TaggingRule()
    rule.tagging_rule.update(pairs)  # not rule.add, which checks lengths before the server does
    return oss2.models.Tagging(rule)


def test_object_tagging(bucket: oss2.Bucket) -> None:
    bucket.put_object("tagged", b"x", headers={"x-oss-tagging": "a=1&b=two%20words"})
    assert bucket.get_object_tagging("tagged").tag_set.tagging_rule == {"a": "1", "b": "two words"}
    assert bucket.head_object("tagged").headers["x-oss-tagging-count"] == "2"
    bucket.put_object_tagging("tagged", _tagging(("c", "3")))
    assert bucket.get_object_tagging("tagged").tag_set.tagging_rule == {"c": "3"}
    bucket.copy_object(bucket.bucket_name, "tagged", "copy")
    assert bucket.get_object_tagging("copy").tag_set.tagging_rule == {"c": "3"}
    headers = {"x-oss-tagging-directive": "Replace", "x-oss-tagging": "d=4"}
    bucket.copy_object(bucket.bucket_name, "tagged", "replaced", headers=headers)
    assert bucket.get_object_tagging("replaced").tag_set.tagging_rule == {"d": "4"}
    bucket.delete_object_tagging("tagged")
    assert bucket.get_object_tagging("tagged").tag_set.tagging_rule == {}
    assert "x-oss-tagging-count" not in bucket.head_object("tagged").headers


@pytest.mark.parametrize(
    "pairs",
    [
        [(f"k{n}", "v") for n in range(11)],
        [("k" * 129, "v")],
        [("k", "v" * 257)],
        [("mail", "me@example.com")],
    ],
    ids=["eleven-tags", "long-key", "long-value", "at-sign"],
)
def test_object_tagging_rules(bucket: oss2.Bucket, pairs: list[tuple[str, str]]) -> None:
    bucket.put_object("rules", b"x")
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.put_object_tagging("rules", _tagging(*pairs))
    assert (caught.value.status, caught.value.code) == (400, "InvalidTag")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object_tagging("absent")


def test_versioning_wire(bucket: oss2.Bucket) -> None:
    """OSS's versioning as its API reference writes it: no Status before versioning, x-oss-version-id on
    writes and reads, a delete marker on an unversioned DELETE (x-oss-delete-marker), 404 with the marker
    headers for the key, and the version listing with Version and DeleteMarker entries."""
    assert bucket.get_bucket_versioning().status is None
    bucket.put_bucket_versioning(oss2.models.BucketVersioningConfig("Enabled"))
    assert bucket.get_bucket_versioning().status == "Enabled"
    first = bucket.put_object("k", b"one").versionid
    second = bucket.put_object("k", b"two").versionid
    assert first and second and first != second
    assert bucket.get_object("k", params={"versionId": first}).read() == b"one"
    assert bucket.head_object("k").headers["x-oss-version-id"] == second
    gone = bucket.delete_object("k")
    assert gone.delete_marker and gone.versionid
    with pytest.raises(oss2.exceptions.NoSuchKey) as err:
        bucket.get_object("k")
    assert err.value.headers["x-oss-delete-marker"] == "true"
    listing = bucket.list_object_versions()
    assert [(v.versionid, v.is_latest) for v in listing.versions] == [(second, False), (first, False)]
    assert [(m.versionid, m.is_latest) for m in listing.delete_marker] == [(gone.versionid, True)]
    with pytest.raises(oss2.exceptions.OssError) as bad:
        bucket.get_object("k", params={"versionId": "not-an-id"})
    assert (bad.value.status, bad.value.code) == (400, "InvalidArgument")
