"""The OBS emulator is strict: it takes what Huawei documents and refuses the rest.

Requests are signed by esdk-obs-python's own signer (an implementation independent of the emulator's),
sent by httpx or by the SDK client, against the emulator running as a real process.
"""

from __future__ import annotations

import email.utils
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree
from obs import GetObjectRequest, ObsClient, PutObjectHeader, auth, convertor

from backends.obs.backend import make_client
from backends.obs.settings import Settings
from tests.helpers.emulated import OBS_AK as AK
from tests.helpers.emulated import OBS_SK as SK
from tests.helpers.emulated import obs_emulator
from tests.helpers.procs import ServerProcess, running

DOMAIN = "obs.localtest"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(obs_emulator(tmp_path_factory.mktemp("obs-emulator")))


def sdk_client(
    server: ServerProcess, secret: str = SK, signature: str = "obs", access: str = AK
) -> ObsClient:
    settings = Settings(type="obs", server=server.url, access_key=access, secret_key=secret, signature="obs")
    client = make_client(settings)
    if signature != "obs":
        client.signature = signature
        client.ha = convertor.Adapter(signature)
        client.convertor = convertor.Convertor(signature, client.ha)
    return client


def signed(
    method: str,
    bucket: str | None,
    key: str = "",
    *,
    path_style: bool,
    query: dict[str, str | None] | None = None,
    headers: dict[str, str] | None = None,
    date: float | None = None,
) -> dict[str, str]:
    """Headers signed by the SDK's OBS signer (``auth.Authentication``)."""
    out = {"Date": email.utils.formatdate(date or time.time(), usegmt=True), **(headers or {})}
    signer = auth.Authentication(AK, SK, path_style, convertor.Adapter("obs"), "127.0.0.1", False)
    out["Authorization"] = signer.doAuth(method, bucket, key, query or {}, out)["Authorization"]
    return out


def error_of(response: httpx.Response) -> tuple[int, str]:
    root = etree.fromstring(response.content)
    assert root.tag == "Error"  # OBS error documents carry no namespace
    assert root.findtext("RequestId") == response.headers["x-obs-request-id"]
    return response.status_code, root.findtext("Code") or ""


def test_sdk_roundtrip_uses_obs_headers(emulator: ServerProcess) -> None:
    client = sdk_client(emulator)
    try:
        assert client.createBucket("wire-meta").status == 200
        put = client.putContent("wire-meta", "k", b"hello", metadata={"color": "blue"})
        assert put.status == 200, put.errorCode
        head = client.getObjectMetadata("wire-meta", "k")
        names = {k for k, _ in head.header}
        assert "x-obs-meta-color" in names and "x-obs-request-id" in names
        assert not any(n.startswith("x-amz-") for n in names)
    finally:
        client.close()


def test_wrong_secret_and_unknown_key_refused(emulator: ServerProcess) -> None:
    for client, code in (
        (sdk_client(emulator, secret="not-the-secret"), "SignatureDoesNotMatch"),
        (sdk_client(emulator, access="someone-else"), "InvalidAccessKeyId"),
    ):
        try:
            result = client.listBuckets(False)
            assert (result.status, result.errorCode) == (403, code)
        finally:
            client.close()


@pytest.mark.parametrize("signature", ["v2", "v4"])
def test_s3_signatures_refused(emulator: ServerProcess, signature: str) -> None:
    client = sdk_client(emulator, signature=signature)
    try:
        result = client.listBuckets(False)
        assert result.status == 400, (result.status, result.errorCode)
    finally:
        client.close()


def test_anonymous_and_stale_requests_refused(emulator: ServerProcess) -> None:
    assert error_of(httpx.get(emulator.url + "/")) == (403, "AccessDenied")
    stale = signed("GET", None, path_style=True, date=time.time() - 3600)
    assert error_of(httpx.get(emulator.url + "/", headers=stale)) == (403, "RequestTimeTooSkewed")


def test_virtual_host_addressing(emulator: ServerProcess) -> None:
    bucket = "vhost-bucket"
    host = {"Host": f"{bucket}.{DOMAIN}:{emulator.port}"}
    put = httpx.put(emulator.url + "/", headers={**host, **signed("PUT", bucket, path_style=False)})
    assert put.status_code == 200, put.text
    body = {"Content-Type": "text/plain", "x-obs-meta-Mixed": "v"}
    headers = {**host, **signed("PUT", bucket, "dir/a b.txt", path_style=False, headers=body)}
    put = httpx.put(emulator.url + "/dir/a%20b.txt", content=b"virtual", headers=headers)
    assert put.status_code == 200, put.text
    query: dict[str, str | None] = {"prefix": "dir/", "delimiter": "/"}
    headers = {**host, **signed("GET", bucket, path_style=False, query=query)}
    listing = httpx.get(emulator.url + "/", params=query, headers=headers)
    assert listing.status_code == 200, listing.text
    ns = {"o": "http://obs.myhwclouds.com/doc/2015-06-30/"}
    assert etree.fromstring(listing.content).xpath("//o:Contents/o:Key/text()", namespaces=ns) == [
        "dir/a b.txt"
    ]
    # the same object path-style, and the signature covers the bucket either way
    get = httpx.get(
        emulator.url + f"/{bucket}/dir/a%20b.txt",
        headers=signed("GET", bucket, "dir/a b.txt", path_style=True),
    )
    assert (get.status_code, get.content, get.headers["x-obs-meta-mixed"]) == (200, b"virtual", "v")
    tampered = signed("GET", bucket, "dir/a b.txt", path_style=True)
    get = httpx.get(emulator.url + f"/{bucket}/dir/other", headers=tampered)
    assert error_of(get) == (403, "SignatureDoesNotMatch")


def test_sub_resources_are_signed(emulator: ServerProcess) -> None:
    """Dropping ``uploads`` from what was signed must break the signature: it is a sub-resource."""
    httpx.put(emulator.url + "/subres", headers=signed("PUT", "subres", path_style=True))
    unsigned_sub = signed("GET", "subres", path_style=True)
    got = httpx.get(emulator.url + "/subres?uploads", headers=unsigned_sub)
    assert error_of(got) == (403, "SignatureDoesNotMatch")
    ok = httpx.get(
        emulator.url + "/subres?uploads",
        headers=signed("GET", "subres", path_style=True, query={"uploads": None}),
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("query", "headers", "status", "code"),
    [
        ({"list-type": "2"}, {}, 501, "NotImplemented"),
        ({"acl": None}, {}, 501, "NotImplemented"),
        ({}, {"x-amz-meta-a": "b"}, 400, "InvalidArgument"),
        ({}, {"x-obs-acl": "public-read"}, 501, "NotImplemented"),
    ],
    ids=["listobjectsv2", "acl", "amz-header", "unknown-obs-header"],
)
def test_unimplemented_refused(
    emulator: ServerProcess, query: dict[str, str | None], headers: dict[str, str], status: int, code: str
) -> None:
    httpx.put(emulator.url + "/strict", headers=signed("PUT", "strict", path_style=True))
    sent = signed("GET", "strict", path_style=True, query=query, headers=headers)
    url = (
        emulator.url
        + "/strict"
        + ("?" + "&".join(k if v is None else f"{k}={v}" for k, v in query.items()) if query else "")
    )
    assert error_of(httpx.get(url, headers=sent)) == (status, code)


def test_unknown_length_upload_refused(emulator: ServerProcess, tmp_path: Path) -> None:
    client = sdk_client(emulator)
    try:
        client.createBucket("chunked")
        result = client.putContent(
            "chunked", "k", io.BytesIO(b"streamed without a length"), headers=PutObjectHeader()
        )
        assert (result.status, result.errorCode) == (411, "MissingContentLength")
        assert client.getObjectMetadata("chunked", "k").status == 404
    finally:
        client.close()


def test_versioning_wire(emulator: ServerProcess) -> None:
    """OBS's versioning as its API reference writes it: no Status before versioning was set,
    x-obs-version-id on writes and reads, a delete marker on a DELETE without versionId
    (x-obs-delete-marker), 404 with the marker headers for the key, the ListVersionsResult in OBS's
    namespace with Version and DeleteMarker entries, a copy from a version, and 32-character ids."""
    client = sdk_client(emulator)
    try:
        assert client.createBucket("wire-versions").status == 200
        raw = httpx.get(
            emulator.url + "/wire-versions?versioning",
            headers=signed("GET", "wire-versions", path_style=True, query={"versioning": None}),
        )
        root = etree.fromstring(raw.content)
        assert root.tag == "{http://obs.myhwclouds.com/doc/2015-06-30/}VersioningConfiguration"
        assert len(root) == 0  # no Status for a bucket never versioned
        assert client.setBucketVersioning("wire-versions", "Enabled").status == 200
        assert client.getBucketVersioning("wire-versions").body == "Enabled"
        first = client.putContent("wire-versions", "k", b"one").body.versionId
        second = client.putContent("wire-versions", "k", b"two").body.versionId
        assert first and second and first != second and len(first) == len(second) == 32
        old = client.getObject("wire-versions", "k", getObjectRequest=GetObjectRequest(versionId=first))
        assert old.body.response.read() == b"one"
        assert dict(client.getObjectMetadata("wire-versions", "k").header)["x-obs-version-id"] == second
        copied = client.copyObject("wire-versions", "k", "wire-versions", "c", versionId=first)
        assert copied.status == 200 and copied.body.copySourceVersionId == first
        assert copied.body.versionId not in (None, first, second)
        gone = client.deleteObject("wire-versions", "k")
        assert gone.body.deleteMarker and gone.body.versionId
        missing = client.getObjectMetadata("wire-versions", "k")
        headers = dict(missing.header)
        assert missing.status == 404 and headers["x-obs-delete-marker"] == "true"
        assert headers["x-obs-version-id"] == gone.body.versionId
        by_marker = client.getObjectMetadata("wire-versions", "k", versionId=gone.body.versionId)
        assert by_marker.status == 405 and dict(by_marker.header)["x-obs-delete-marker"] == "true"
        listing = client.listVersions("wire-versions").body
        assert [(v.key, v.versionId, v.isLatest) for v in listing.versions] == [
            ("c", copied.body.versionId, True),
            ("k", second, False),
            ("k", first, False),
        ]
        assert [(m.versionId, m.isLatest) for m in listing.markers] == [(gone.body.versionId, True)]
        bad = client.getObjectMetadata("wire-versions", "k", versionId="not-an-obs-version-id")
        assert bad.status == 400
        assert client.deleteBucket("wire-versions").errorCode == "BucketNotEmpty"
    finally:
        client.close()


def test_object_tagging_wire(emulator: ServerProcess) -> None:
    """OBS's object tags as its API reference writes them: x-obs-tagging on PUT, x-obs-tagging-count on
    HEAD, Set/Get/DeleteObjectTagging (of a version too), OBS's rules (no ``=`` or ``/`` in a value)."""
    client = sdk_client(emulator)
    try:
        client.createBucket("wire-tags")
        put = client.putContent("wire-tags", "k", b"x", extensionHeaders={"x-obs-tagging": "team=ops&n=1"})
        assert put.status == 200, put.errorCode
        head = client.getObjectMetadata("wire-tags", "k")
        assert dict(head.header)["x-obs-tagging-count"] == "2"
        got = client.getObjectTagging("wire-tags", "k").body.tags
        assert sorted((t.key, t.value) for t in got) == [("n", "1"), ("team", "ops")]
        assert client.setObjectTagging("wire-tags", "k", {"only": "one"}).status == 200
        assert [(t.key, t.value) for t in client.getObjectTagging("wire-tags", "k").body.tags] == [
            ("only", "one")
        ]
        refused = client.setObjectTagging("wire-tags", "k", {"path": "a/b"})
        assert (refused.status, refused.errorCode) == (400, "InvalidTag")
        client.setBucketVersioning("wire-tags", "Enabled")
        first = client.putContent("wire-tags", "v", b"1").body.versionId
        client.putContent("wire-tags", "v", b"2")
        assert client.setObjectTagging("wire-tags", "v", {"old": "yes"}, versionId=first).status == 200
        assert client.getObjectTagging("wire-tags", "v").body.tags == []
        assert [t.key for t in client.getObjectTagging("wire-tags", "v", versionId=first).body.tags] == [
            "old"
        ]
        assert client.deleteObjectTagging("wire-tags", "v", versionId=first).status == 204
        assert client.getObjectTagging("wire-tags", "v", versionId=first).body.tags == []
        assert client.getObjectTagging("wire-tags", "absent").status == 404
    finally:
        client.close()
