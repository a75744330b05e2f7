"""boto3 against the real gateway process on the filesystem backend: the core S3 operations.

(The raw answers behind them, conditions, ranges and error documents, are also tested in-process:
``tests/inproc/test_objects.py``.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import botocore.exceptions
import pytest

from tests.helpers.clients import make_client


def code_of(exc: botocore.exceptions.ClientError) -> str:
    return exc.response["Error"]["Code"]


def status_of(exc: botocore.exceptions.ClientError) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_bucket_lifecycle(s3) -> None:
    name = f"life-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    # The owner's re-create: 200 in us-east-1 (the gateway's default region), as S3 documents it;
    # BucketAlreadyOwnedByYou elsewhere (tests/inproc/test_access_control.py).
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.delete_bucket(Bucket=name)
    assert code_of(err.value) == "BucketNotEmpty" and status_of(err.value) == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.head_bucket(Bucket=name)
    assert status_of(err.value) == 404


@pytest.mark.parametrize("name", ["ab", "UPPER", "has_underscore", "-lead", "192.168.1.1", "a..b", "x" * 64])
def test_invalid_bucket_names(s3, name: str) -> None:
    with pytest.raises((botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError)) as err:
        s3.create_bucket(Bucket=name)
    if isinstance(err.value, botocore.exceptions.ClientError):
        assert code_of(err.value) == "InvalidBucketName"


def test_bucket_config_reads(s3, bucket: str) -> None:
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert code_of(err.value) == "NoSuchBucketPolicy"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "i.html"}})
    assert code_of(err.value) == "NotImplemented" and status_of(err.value) == 501


def test_put_get_metadata_roundtrip(s3, bucket: str) -> None:
    body = b"hello world" * 1000
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/obj.txt",
        Body=body,
        ContentType="text/plain; charset=utf-8",
        ContentDisposition='attachment; filename="x.txt"',
        ContentLanguage="en",
        CacheControl="max-age=60",
        ContentEncoding="identity",
        Expires=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
        Metadata={"Author": "Ada", "note": "two words"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/obj.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain; charset=utf-8"
    assert got["ContentDisposition"] == 'attachment; filename="x.txt"'
    assert got["ContentLanguage"] == "en"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentEncoding"] == "identity"
    assert got["Expires"].year == 2030
    assert got["Metadata"] == {"author": "Ada", "note": "two words"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="dir/obj.txt")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    assert head["Metadata"] == {"author": "Ada", "note": "two words"}


@pytest.mark.parametrize(
    "key",
    [
        "plain",
        "a/b/c",
        "with space",
        "plus+sign",
        "percent%25",
        "ünïcødé/☃",
        "trailing/",
        "/leading",
        "a//b",
        "dir/",
    ],
)
def test_awkward_keys(s3, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert key in keys


def test_object_and_prefix_coexist(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"2")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"1"
    assert s3.get_object(Bucket=bucket, Key="a/b")["Body"].read() == b"2"
    listed = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["a"]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["a/"]


def test_ranges(s3, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    cases = {
        "bytes=0-9": body[0:10],
        "bytes=1000-": body[1000:],
        "bytes=-5": body[-5:],
        "bytes=1020-5000": body[1020:],
    }
    for header, expected in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == expected, header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"].endswith(f"/{len(body)}")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-6000")
    assert code_of(err.value) == "InvalidRange" and status_of(err.value) == 416


def test_conditionals(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"data")
    etag = put["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert status_of(err.value) == 412
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status_of(err.value) == 304
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert status_of(err.value) == 304
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert status_of(err.value) == 412
    # If-Match true wins over If-Unmodified-Since false (S3 returns the object)
    assert (
        s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)["Body"].read() == b"data"
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"new", IfNoneMatch="*")
    assert status_of(err.value) == 412
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"data"


def test_response_overrides(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket, Key="o", ResponseContentType="image/png", ResponseContentDisposition="inline"
    )
    assert got["ContentType"] == "image/png" and got["ContentDisposition"] == "inline"


def test_missing_things(s3, bucket: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="nope")
    assert code_of(err.value) == "NoSuchKey" and status_of(err.value) == 404
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket="no-such-bucket-here", Key="k")
    assert code_of(err.value) == "NoSuchBucket"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.head_object(Bucket=bucket, Key="nope")
    assert status_of(err.value) == 404
    s3.delete_object(Bucket=bucket, Key="nope")  # 204 also when missing


def test_wrong_secret_and_unknown_key(gateway, bucket: str) -> None:
    bad = make_client(gateway.url)
    bad._request_signer._credentials.secret_key = "wrong"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bad.list_objects_v2(Bucket=bucket)
    assert code_of(err.value) == "SignatureDoesNotMatch" and status_of(err.value) == 403
    unknown = make_client(gateway.url)
    unknown._request_signer._credentials.access_key = "nobody"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        unknown.list_objects_v2(Bucket=bucket)
    assert code_of(err.value) == "InvalidAccessKeyId"


def test_bad_content_md5(s3, bucket: str) -> None:
    import base64

    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5=wrong)
    assert code_of(err.value) == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="md5")


def test_key_too_long(s3, bucket: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code_of(err.value) == "KeyTooLongError"


def test_delete_objects(s3, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"d/{i}", Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"d/{i}"} for i in range(6)]})
    assert sorted(d["Key"] for d in out["Deleted"]) == [f"d/{i}" for i in range(6)]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="q", Body=b"x")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet


def test_copy_object(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src key+", Body=b"copy me", ContentType="text/x", Metadata={"a": "1"})
    other = f"e2e-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=other)
    try:
        out = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src key+"})
        assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
        got = s3.get_object(Bucket=other, Key="dst")
        assert (
            got["Body"].read() == b"copy me"
            and got["Metadata"] == {"a": "1"}
            and got["ContentType"] == "text/x"
        )
        s3.copy_object(
            Bucket=other, Key="dst", CopySource=f"{bucket}/src key+", MetadataDirective="REPLACE",
            Metadata={"b": "2"}, ContentType="text/y",
        )  # fmt: skip
        got = s3.head_object(Bucket=other, Key="dst")
        assert got["Metadata"] == {"b": "2"} and got["ContentType"] == "text/y"
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": other, "Key": "dst"})
        assert code_of(err.value) == "InvalidRequest"
        s3.copy_object(
            Bucket=other, Key="dst", CopySource={"Bucket": other, "Key": "dst"}, MetadataDirective="REPLACE",
            Metadata={"c": "3"},
        )  # fmt: skip
        assert s3.head_object(Bucket=other, Key="dst")["Metadata"] == {"c": "3"}
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.copy_object(
                Bucket=other,
                Key="x",
                CopySource={"Bucket": bucket, "Key": "src key+"},
                CopySourceIfMatch='"nope"',
            )
        assert status_of(err.value) == 412
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
        assert code_of(err.value) == "NoSuchKey"
    finally:
        for key in ("dst",):
            s3.delete_object(Bucket=other, Key=key)
        s3.delete_bucket(Bucket=other)


def test_listing_v1_v2_pagination(s3, bucket: str) -> None:
    keys = sorted([f"p/{i:03d}" for i in range(25)] + [f"q/{i}/x" for i in range(5)] + ["top", "a b", "c+d"])
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7}):
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] <= 7
    assert seen == keys
    seen = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4}):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys
    prefixes, contents = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        contents += [o["Key"] for o in page.get("Contents", [])]
    assert prefixes == ["p/", "q/"] and contents == ["a b", "c+d", "top"]
    v1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert v1["IsTruncated"] and v1["NextMarker"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="p/020", Prefix="p/")
    assert [o["Key"] for o in after["Contents"]] == [f"p/{i:03d}" for i in range(21, 25)]
    # botocore decodes only when it set encoding-type itself; asked for explicitly, the raw form shows
    enc = s3.list_objects_v2(Bucket=bucket, Prefix="c", EncodingType="url")
    assert [o["Key"] for o in enc["Contents"]] == ["c%2Bd"]
    enc = s3.list_objects_v2(Bucket=bucket, Prefix="a ", EncodingType="url")
    assert [o["Key"] for o in enc["Contents"]] == ["a+b"] and enc["Prefix"] == "a+"
    owner = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, FetchOwner=True)
    assert "Owner" in owner["Contents"][0]
    empty = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert empty["KeyCount"] == 0


def test_multipart_roundtrip_and_rules(s3, bucket: str) -> None:
    part = 5 * 1024 * 1024
    data = [bytes([i]) * part for i in range(2)] + [b"tail"]
    up = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="application/x-mp", Metadata={"m": "1"}
    )
    uid = up["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i + 1, Body=d)["ETag"]
        for i, d in enumerate(data)
    ]
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2] and listed["IsTruncated"]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [uid]
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="mp")  # invisible until complete
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]},
        )  # fmt: skip
    assert code_of(err.value) == "InvalidPartOrder"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"deadbeef"'}]},
        )
    assert code_of(err.value) == "InvalidPart"
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )  # fmt: skip
    md5s = b"".join(hashlib.md5(d).digest() for d in data)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ContentType"] == "application/x-mp" and got["Metadata"] == {"m": "1"}
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(b"".join(data)).digest()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert code_of(err.value) == "NoSuchUpload"


def test_multipart_small_part_abort_and_part_copy(s3, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=1, Body=b"a" * 100)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=2, Body=b"b" * 100)["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
        )  # fmt: skip
    assert code_of(err.value) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=3, Body=b"c")
    assert code_of(err.value) == "NoSuchUpload"

    source = bytes(range(256)) * (6 * 4096)  # 6 MiB
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    p1 = s3.upload_part_copy(
        Bucket=bucket, Key="copied", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=0-{5 * 1024 * 1024 - 1}",
    )["CopyPartResult"]["ETag"]  # fmt: skip
    p2 = s3.upload_part_copy(
        Bucket=bucket, Key="copied", UploadId=uid, PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes={5 * 1024 * 1024}-{len(source) - 1}",
    )["CopyPartResult"]["ETag"]  # fmt: skip
    s3.complete_multipart_upload(
        Bucket=bucket, Key="copied", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == source


def test_upload_fileobj_and_download(s3, bucket: str, tmp_path) -> None:
    data = io.BytesIO(b"z" * (9 * 1024 * 1024))
    s3.upload_fileobj(data, bucket, "big")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big", out)
    assert out.getvalue() == b"z" * (9 * 1024 * 1024)


def test_unversioned_bucket_version_semantics(s3, bucket: str) -> None:
    """ListObjectVersions answers every object as version ``null`` (as S3 does for an unversioned
    bucket); versionId ``null`` addresses the object, any other id is InvalidArgument."""
    keys = [f"v/{i:02d}" for i in range(7)] + ["w/x"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 3}
    ):
        for v in page.get("Versions", []):
            assert v["VersionId"] == "null" and v["IsLatest"] is True and v["Size"] == len(v["Key"])
            seen.append(v["Key"])
        assert "DeleteMarkers" not in page
    assert seen == keys
    grouped = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["v/", "w/"]
    assert s3.get_object(Bucket=bucket, Key="w/x", VersionId="null")["Body"].read() == b"w/x"
    for call in (
        lambda: s3.get_object(Bucket=bucket, Key="w/x", VersionId="3HL4kqtJlcpXroDTDmJ"),
        lambda: s3.head_object(Bucket=bucket, Key="w/x", VersionId="3HL4kqtJlcpXroDTDmJ"),
        lambda: s3.delete_object(Bucket=bucket, Key="w/x", VersionId="3HL4kqtJlcpXroDTDmJ"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
        assert status_of(err.value) == 400
    assert (
        s3.head_object(Bucket=bucket, Key="w/x")["ContentLength"] == 3
    )  # the refused delete deleted nothing
    out = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "w/x", "VersionId": "bogus"}, {"Key": "v/00", "VersionId": "null"}]},
    )
    assert [d["Key"] for d in out["Deleted"]] == ["v/00"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("w/x", "InvalidArgument")]
    s3.delete_object(Bucket=bucket, Key="w/x", VersionId="null")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="w/x")
