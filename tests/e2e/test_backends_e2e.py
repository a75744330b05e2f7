"""The same client scenario through the real gateway over every provider backend, each against a real
store process: moto's S3 server (s3 backend, and obs backend in v4 mode), the strict OSS emulator (oss
backend, signature v4 and v1), the strict OBS emulator (obs backend, native signature) and a real
single-node Ceph RGW (s3 backend; ``rgw`` marker, skipped with the reason where Ceph is not installed).

boto3 and the aws-cli drive the gateway; the gateway drives the store through the provider SDK.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import botocore.exceptions
import httpx
import pytest

from tests.helpers.clients import make_client, sha256_file, write_random
from tests.helpers.procs import ServerProcess
from tests.helpers.rgw import CONNECT_TIMEOUT, READ_TIMEOUT
from tests.helpers.rgw_cluster import RgwCluster
from tests.helpers.stores import serve_backend, store_and_backend

MiB = 1024 * 1024


def _rgw_backend(cluster: RgwCluster) -> str:
    """The s3 backend's YAML options for the session's Ceph RGW (tests/helpers/rgw.py), first user's keys."""
    user = cluster.users[0]
    return (
        f"type: s3\n    endpoint: {cluster.endpoint}\n    access_key: {user.access_key}\n"
        f"    secret_key: {user.secret_key}\n    connect_timeout: {CONNECT_TIMEOUT}\n"
        f"    read_timeout: {READ_TIMEOUT}\n"
    )


@pytest.fixture(
    scope="module",
    params=["fs", "s3", "oss-v4", "oss-v1", "obs", "obs-v4", pytest.param("s3-rgw", marks=pytest.mark.rgw)],
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    store: ServerProcess | None = None
    if request.param == "s3-rgw":  # the session's cluster: started on first use, stopped by its fixture
        backend_yaml = _rgw_backend(request.getfixturevalue("rgw_cluster"))
    else:
        store, backend_yaml = store_and_backend(request.param, root)
    yield from serve_backend(root, backend_yaml, store)


#: RGW's deviations from AWS that these scenarios meet, by test: strict xfail on the ``s3-rgw`` stack.
RGW_DEVIATIONS: dict[str, tuple[str, type[BaseException]]] = {
    "test_multipart_api_and_default_checksums": (
        "ListParts of an aborted upload answers 404 NoSuchKey, not NoSuchUpload",
        AssertionError,
    ),
    "test_versions_through_the_provider": (
        "HEAD of a key whose latest version is a delete marker answers 404 without x-amz-delete-marker",
        AssertionError,
    ),
}


@pytest.fixture(autouse=True)
def rgw_deviation(request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    deviation = RGW_DEVIATIONS.get(request.node.originalname)
    if callspec is not None and callspec.params.get("stack") == "s3-rgw" and deviation is not None:
        reason, raises = deviation
        request.applymarker(
            pytest.mark.xfail(strict=True, raises=raises, reason=f"RGW deviates from AWS: {reason}")
        )


@pytest.fixture
def s3b(stack: ServerProcess):  # type: ignore[no-untyped-def]
    return make_client(stack.url)


@pytest.fixture
def bkt(s3b) -> str:  # type: ignore[no-untyped-def]
    name = f"bk-{uuid.uuid4().hex[:10]}"
    s3b.create_bucket(Bucket=name)
    return name


def test_64mib_multipart_with_aws_cli(stack: ServerProcess, aws, bkt: str, s3b, tmp_path: Path) -> None:
    src = write_random(tmp_path / "src", 64 * MiB, seed=11)
    aws("s3", "cp", str(src), f"s3://{bkt}/big/object.bin", url=stack.url)
    head = s3b.head_object(Bucket=bkt, Key="big/object.bin")
    assert head["ContentLength"] == 64 * MiB
    aws("s3", "cp", f"s3://{bkt}/big/object.bin", str(tmp_path / "back"), url=stack.url)
    assert sha256_file(tmp_path / "back") == sha256_file(src)


def test_objects_ranges_copy_metadata(s3b, bkt: str) -> None:
    body = bytes(range(256)) * 64
    s3b.put_object(
        Bucket=bkt, Key="dir/a b+c", Body=body, ContentType="text/x-test", CacheControl="no-cache",
        ContentDisposition="inline", Metadata={"owner": "ada", "n": "1"},
    )  # fmt: skip
    head = s3b.head_object(Bucket=bkt, Key="dir/a b+c")
    assert head["Metadata"] == {"owner": "ada", "n": "1"}
    assert head["ContentType"] == "text/x-test" and head["CacheControl"] == "no-cache"
    assert head["ContentDisposition"] == "inline" and head["ContentLength"] == len(body)
    assert head["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    ranged = s3b.get_object(Bucket=bkt, Key="dir/a b+c", Range="bytes=100-299")
    assert ranged["Body"].read() == body[100:300] and ranged["ContentRange"] == f"bytes 100-299/{len(body)}"
    assert s3b.get_object(Bucket=bkt, Key="dir/a b+c", Range="bytes=-10")["Body"].read() == body[-10:]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.get_object(Bucket=bkt, Key="dir/a b+c", Range=f"bytes={len(body)}-")
    assert err.value.response["Error"]["Code"] == "InvalidRange"
    s3b.copy_object(Bucket=bkt, Key="copy", CopySource={"Bucket": bkt, "Key": "dir/a b+c"})
    copied = s3b.get_object(Bucket=bkt, Key="copy")
    assert copied["Body"].read() == body and copied["Metadata"] == {"owner": "ada", "n": "1"}
    s3b.copy_object(
        Bucket=bkt, Key="copy", CopySource={"Bucket": bkt, "Key": "dir/a b+c"}, MetadataDirective="REPLACE",
        Metadata={"fresh": "yes"}, ContentType="application/x-new",
    )  # fmt: skip
    replaced = s3b.head_object(Bucket=bkt, Key="copy")
    assert replaced["Metadata"] == {"fresh": "yes"} and replaced["ContentType"] == "application/x-new"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.get_object(Bucket=bkt, Key="missing")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    s3b.delete_object(Bucket=bkt, Key="copy")
    with pytest.raises(botocore.exceptions.ClientError):
        s3b.head_object(Bucket=bkt, Key="copy")


def test_listing_1500_keys_with_delimiter(s3b, bkt: str) -> None:
    keys = [f"d{i % 3}/k{i:04d}" for i in range(1500)] + [f"top{i}" for i in range(5)]

    def put(key: str) -> None:
        s3b.put_object(Bucket=bkt, Key=key, Body=key.encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, keys))
    seen: list[str] = []
    pages = 0
    for page in s3b.get_paginator("list_objects_v2").paginate(Bucket=bkt, Prefix="d1/"):
        seen += [o["Key"] for o in page.get("Contents", [])]
        pages += 1
    assert seen == sorted(k for k in keys if k.startswith("d1/")) and pages == 1
    seen, pages = [], 0
    for page in s3b.get_paginator("list_objects_v2").paginate(Bucket=bkt, PaginationConfig={"PageSize": 400}):
        seen += [o["Key"] for o in page.get("Contents", [])]
        pages += 1
    assert seen == sorted(keys) and pages == 4
    top = s3b.list_objects_v2(Bucket=bkt, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["d0/", "d1/", "d2/"]
    assert [o["Key"] for o in top["Contents"]] == [f"top{i}" for i in range(5)]
    v1, marker = [], ""
    while True:
        page = s3b.list_objects(Bucket=bkt, Prefix="d2/", Marker=marker, MaxKeys=333)
        v1 += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        marker = v1[-1]
    assert v1 == sorted(k for k in keys if k.startswith("d2/"))


def test_presigned_urls_land_in_the_store(stack: ServerProcess, s3b, bkt: str) -> None:
    for signature in ("s3", "s3v4"):
        signer = make_client(stack.url, signature_version=signature)
        key = f"anon/{signature}.txt"
        url = signer.generate_presigned_url("put_object", Params={"Bucket": bkt, "Key": key}, ExpiresIn=300)
        assert httpx.put(url, content=b"uploaded " + signature.encode()).status_code == 200
        url = signer.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": key}, ExpiresIn=300)
        got = httpx.get(url)
        assert got.status_code == 200 and got.content == b"uploaded " + signature.encode()
    assert s3b.get_object(Bucket=bkt, Key="anon/s3v4.txt")["Body"].read() == b"uploaded s3v4"


def test_multipart_api_and_default_checksums(stack: ServerProcess, bkt: str, s3b) -> None:
    client = make_client(stack.url, checksums="when_supported")
    parts = [bytes([n]) * (5 * MiB) for n in range(1, 3)] + [b"end"]
    uid = client.create_multipart_upload(Bucket=bkt, Key="mpu", Metadata={"m": "v"})["UploadId"]
    etags = [
        client.upload_part(Bucket=bkt, Key="mpu", UploadId=uid, PartNumber=n + 1, Body=p)["ETag"]
        for n, p in enumerate(parts)
    ]
    listed = s3b.list_parts(Bucket=bkt, Key="mpu", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert any(u["UploadId"] == uid for u in s3b.list_multipart_uploads(Bucket=bkt).get("Uploads", []))
    client.complete_multipart_upload(
        Bucket=bkt, Key="mpu", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
    )  # fmt: skip
    got = s3b.get_object(Bucket=bkt, Key="mpu")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(b"".join(parts)).digest()
    assert got["Metadata"] == {"m": "v"}
    uid = s3b.create_multipart_upload(Bucket=bkt, Key="aborted")["UploadId"]
    s3b.abort_multipart_upload(Bucket=bkt, Key="aborted", UploadId=uid)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.list_parts(Bucket=bkt, Key="aborted", UploadId=uid)
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"


SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}
#: Requests that ask for protection the gateway does not give, and the S3 error each must get.
PROTECTION_REQUESTS: list[tuple[str, str, dict[str, object], str]] = [
    ("put_object", "sse-c", SSE_C, "NotImplemented"),
    ("put_object", "sse-s3", {"ServerSideEncryption": "AES256"}, "NotImplemented"),
    ("put_object", "sse-kms", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/x"}, "NotImplemented"),
    # a bucket without Object Lock refuses lock headers as S3 does (lock buckets: test_object_lock_e2e)
    ("put_object", "lock", {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": "2099-01-01T00:00:00Z"}, "InvalidRequest"),
    ("put_object", "hold", {"ObjectLockLegalHoldStatus": "ON"}, "InvalidRequest"),
    ("put_object", "acl", {"ACL": "public-read"}, "AccessControlListNotSupported"),
    ("put_object", "grant", {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}, "AccessControlListNotSupported"),
    ("put_object", "redirect", {"WebsiteRedirectLocation": "/elsewhere"}, "NotImplemented"),
    ("put_object", "owner", {"ExpectedBucketOwner": "111122223333"}, "AccessDenied"),
    ("copy_object", "sse-s3", {"ServerSideEncryption": "AES256"}, "NotImplemented"),
    ("copy_object", "source-sse-c", {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": "k" * 32}, "NotImplemented"),
    ("copy_object", "lock", {"ObjectLockLegalHoldStatus": "ON"}, "InvalidRequest"),
    ("copy_object", "source-owner", {"ExpectedSourceBucketOwner": "111122223333"}, "AccessDenied"),
    ("create_multipart_upload", "sse-c", SSE_C, "NotImplemented"),
    ("create_multipart_upload", "sse-kms", {"ServerSideEncryption": "aws:kms"}, "NotImplemented"),
    ("create_multipart_upload", "lock", {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2099-01-01T00:00:00Z"}, "InvalidRequest"),
    ("get_object", "sse-c", SSE_C, "NotImplemented"),
    ("head_object", "sse-c", SSE_C, "NotImplemented"),
    ("get_object", "owner", {"ExpectedBucketOwner": "111122223333"}, "AccessDenied"),
    ("delete_object", "owner", {"ExpectedBucketOwner": "111122223333"}, "AccessDenied"),
    ("list_objects_v2", "owner", {"ExpectedBucketOwner": "111122223333"}, "AccessDenied"),
]  # fmt: skip


def test_protection_requests_are_refused_not_ignored(s3b, bkt: str) -> None:
    s3b.put_object(Bucket=bkt, Key="existing", Body=b"plain")
    for operation, label, extra, code in PROTECTION_REQUESTS:
        key = f"refused/{operation}/{label}"
        args: dict[str, object] = {"Bucket": bkt, **extra}
        if operation in ("put_object",):
            args.update(Key=key, Body=b"secret data")
        elif operation == "copy_object":
            args.update(Key=key, CopySource={"Bucket": bkt, "Key": "existing"})
        elif operation == "create_multipart_upload":
            args.update(Key=key)
        elif operation != "list_objects_v2":
            args.update(Key="existing")
        with pytest.raises(botocore.exceptions.ClientError) as err:
            getattr(s3b, operation)(**args)
        response = err.value.response
        status = {"NotImplemented": 501, "AccessDenied": 403}.get(code, 400)
        if operation == "head_object":  # no body: botocore names the error by its status
            code = str(status)
        got = (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"])
        assert got == (status, code), (operation, label)
    # nothing was stored, started or removed by any of them
    listed = s3b.list_objects_v2(Bucket=bkt)
    assert [o["Key"] for o in listed["Contents"]] == ["existing"]
    assert s3b.list_multipart_uploads(Bucket=bkt).get("Uploads", []) == []
    assert s3b.get_object(Bucket=bkt, Key="existing")["Body"].read() == b"plain"


def test_owner_only_acls_and_the_gateways_own_owner_are_accepted(s3b, bkt: str) -> None:
    owner = s3b.list_buckets()["Owner"]["ID"]
    for acl in ("private", "bucket-owner-full-control"):
        s3b.put_object(Bucket=bkt, Key=acl, Body=b"x", ACL=acl)
    s3b.put_object(Bucket=bkt, Key="owned", Body=b"y", ExpectedBucketOwner=owner)
    assert s3b.get_object(Bucket=bkt, Key="owned", ExpectedBucketOwner=owner)["Body"].read() == b"y"
    s3b.put_object(Bucket=bkt, Key="unheld", Body=b"z", ObjectLockLegalHoldStatus="OFF")


def test_object_lock_bucket_is_refused(s3b, request: pytest.FixtureRequest) -> None:
    """Backends that cannot lock refuse a lock bucket and leave none behind; fs serves it."""
    name = f"lock-{uuid.uuid4().hex[:10]}"
    if request.node.callspec.params["stack"] == "fs":  # fs enforces Object Lock (test_object_lock_e2e)
        s3b.create_bucket(Bucket=name + "-l", ObjectLockEnabledForBucket=True)
        assert s3b.get_bucket_versioning(Bucket=name + "-l")["Status"] == "Enabled"
    else:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3b.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        assert err.value.response["Error"]["Code"] == "NotImplemented"
        assert name not in [b["Name"] for b in s3b.list_buckets()["Buckets"]]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3b.create_bucket(Bucket=name, ACL="public-read")
    # A public bucket ACL with the default ownership (BucketOwnerEnforced), as S3 answers it since 2023.
    assert err.value.response["Error"]["Code"] == "InvalidBucketAclWithObjectOwnership"
    s3b.create_bucket(Bucket=name, ObjectLockEnabledForBucket=False, ACL="private")
    s3b.delete_bucket(Bucket=name)


CONTROL_KEYS = ["ctl/a\x01b", "ctl/us\x1fz", "ctl/vt\x0b", "ctl/plain"]


def test_control_character_keys_are_stored_and_listed(s3b, bkt: str) -> None:
    """S3 keys may hold any Unicode character; every backend stores them, and listings carry them."""
    for key in CONTROL_KEYS:
        s3b.put_object(Bucket=bkt, Key=key, Body=key.encode())
    assert [o["Key"] for o in s3b.list_objects_v2(Bucket=bkt, Prefix="ctl/")["Contents"]] == sorted(
        CONTROL_KEYS
    )
    assert [o["Key"] for o in s3b.list_objects(Bucket=bkt, Prefix="ctl/")["Contents"]] == sorted(CONTROL_KEYS)
    for key in CONTROL_KEYS:
        assert s3b.get_object(Bucket=bkt, Key=key)["Body"].read() == key.encode()


def test_nul_in_a_key_is_refused_alike_on_every_backend(s3b, bkt: str) -> None:
    """Stores disagree on NUL (Ceph RGW refuses it, fs and moto store it): the gateway decides, once."""
    for call in (
        lambda: s3b.put_object(Bucket=bkt, Key="nul\x00key", Body=b"x"),
        lambda: s3b.create_multipart_upload(Bucket=bkt, Key="nul\x00key"),
        lambda: s3b.copy_object(Bucket=bkt, Key="nul\x00copy", CopySource={"Bucket": bkt, "Key": "src"}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3b.list_objects_v2(Bucket=bkt).get("Contents", []) == []


def test_object_tagging_with_boto3(s3b, bkt: str) -> None:  # type: ignore[no-untyped-def]
    """Tags on PUT, PutObjectTagging, the count on GET/HEAD and a tagged copy, on each provider's own
    object tags."""
    s3b.put_object(Bucket=bkt, Key="tagged", Body=b"x", Tagging="team=ops&stage=dev%20one")
    assert s3b.get_object_tagging(Bucket=bkt, Key="tagged")["TagSet"] == [
        {"Key": "stage", "Value": "dev one"},
        {"Key": "team", "Value": "ops"},
    ]
    assert (
        s3b.head_object(Bucket=bkt, Key="tagged")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"]
        == "2"
    )
    assert s3b.get_object(Bucket=bkt, Key="tagged")["TagCount"] == 2
    s3b.put_object_tagging(Bucket=bkt, Key="tagged", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    s3b.copy_object(Bucket=bkt, Key="copy", CopySource={"Bucket": bkt, "Key": "tagged"})
    assert s3b.get_object_tagging(Bucket=bkt, Key="copy")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3b.delete_object_tagging(Bucket=bkt, Key="tagged")
    assert s3b.get_object_tagging(Bucket=bkt, Key="tagged")["TagSet"] == []
    assert s3b.get_object(Bucket=bkt, Key="tagged")["Body"].read() == b"x"


def test_versions_through_the_provider(s3b, bkt: str) -> None:  # type: ignore[no-untyped-def]
    """A versioned bucket on each provider's own versioning (fs keeps versions itself): ids from the
    store, reads and copies by id, a delete marker and what a read of it answers, the version listing,
    and DeleteObjects naming a version."""

    def error(call) -> tuple[str, int, str | None]:  # type: ignore[no-untyped-def]
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
        meta = err.value.response["ResponseMetadata"]
        return (
            err.value.response["Error"]["Code"],
            meta["HTTPStatusCode"],
            meta["HTTPHeaders"].get("x-amz-delete-marker"),
        )

    s3b.put_bucket_versioning(Bucket=bkt, VersioningConfiguration={"Status": "Enabled"})
    assert s3b.get_bucket_versioning(Bucket=bkt)["Status"] == "Enabled"
    v1 = s3b.put_object(Bucket=bkt, Key="doc", Body=b"one")["VersionId"]
    v2 = s3b.put_object(Bucket=bkt, Key="doc", Body=b"two")["VersionId"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)
    assert s3b.get_object(Bucket=bkt, Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert s3b.head_object(Bucket=bkt, Key="doc")["VersionId"] == v2
    gone = s3b.delete_object(Bucket=bkt, Key="doc")
    assert gone["DeleteMarker"] is True and gone["VersionId"] not in (v1, v2)
    # HEAD, not GET: moto's GET of a key whose latest version is a marker omits x-amz-delete-marker
    assert error(lambda: s3b.head_object(Bucket=bkt, Key="doc")) == ("404", 404, "true")
    listing = s3b.list_object_versions(Bucket=bkt)
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(gone["VersionId"], True)]
    copied = s3b.copy_object(
        Bucket=bkt, Key="restored", CopySource={"Bucket": bkt, "Key": "doc", "VersionId": v1}
    )
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"] not in (None, "null", v1)
    assert s3b.get_object(Bucket=bkt, Key="restored")["Body"].read() == b"one"
    batch = s3b.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "doc", "VersionId": v1}]})
    assert [(d["Key"], d.get("VersionId")) for d in batch["Deleted"]] == [("doc", v1)]
    assert error(lambda: s3b.get_object(Bucket=bkt, Key="doc", VersionId=v1))[:2] == ("NoSuchVersion", 404)
    assert s3b.get_object(Bucket=bkt, Key="doc", VersionId=v2)["Body"].read() == b"two"
