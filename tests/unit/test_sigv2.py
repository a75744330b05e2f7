"""SigV2 header and presigned query: AWS's published examples, and what botocore signs."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import re
import time

import pytest

from gateway.auth import RequestView, authenticate
from gateway.errors import S3Error
from tests.helpers.signing import AWS_KEY, accept, botocore_request, secrets, view_of


def at(http_date: str) -> datetime.datetime:
    return datetime.datetime.strptime(http_date, "%a, %d %b %Y %H:%M:%S %z")


# (method, virtual-host bucket, raw path, query, headers, signature) from AWS's "Signing and
# Authenticating REST Requests" examples (AKIAIOSFODNN7EXAMPLE).
AWS_V2_EXAMPLES = [
    ("GET", "awsexamplebucket1", "/photos/puppy.jpg", "", {"date": "Tue, 27 Mar 2007 19:36:42 +0000"},
     "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="),
    ("PUT", "awsexamplebucket1", "/photos/puppy.jpg", "",
     {"content-type": "image/jpeg", "content-length": "94328", "date": "Tue, 27 Mar 2007 21:15:45 +0000"},
     "iqRzw+ileNPu1fhspnRs8nOjjIA="),
    ("GET", "awsexamplebucket1", "/", "prefix=photos&max-keys=50&marker=puppy",
     {"user-agent": "Mozilla/5.0", "date": "Tue, 27 Mar 2007 19:42:41 +0000"}, "m0WP8eCtspQl5Ahe6L1SozdX9YA="),
    ("GET", "awsexamplebucket1", "/", "acl", {"date": "Tue, 27 Mar 2007 19:44:46 +0000"},
     "82ZHiFIjc+WbcwFKGUVEQspPn+0="),
    ("PUT", "static.example.com", "/db-backup.dat.gz", "",
     {"user-agent": "curl/7.15.5", "date": "Tue, 27 Mar 2007 21:06:08 +0000", "x-amz-acl": "public-read",
      "content-type": "application/x-download", "content-md5": "4gJE4saaMU4BqNR0kLY+lw==",
      "x-amz-meta-reviewedby": "joe@example.com,jane@example.com", "x-amz-meta-filechecksum": "0x02661779",
      "x-amz-meta-checksumalgorithm": "crc32", "content-disposition": "attachment; filename=database.dat",
      "content-encoding": "gzip", "content-length": "5913339"},
     "jtBQa0Aq+DkULFI8qrpwIjGEx0E="),
    ("GET", None, "/", "", {"date": "Wed, 28 Mar 2007 01:29:59 +0000"}, "qGdzdERIC03wnaRNKh6OqZehG9s="),
    ("GET", None, "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", "",
     {"date": "Wed, 28 Mar 2007 01:49:49 +0000"}, "DNEZGsoieTZ92F3bUfSPQcbGmlM="),
]  # fmt: skip


@pytest.mark.parametrize(("method", "bucket", "path", "query", "headers", "signature"), AWS_V2_EXAMPLES)
def test_aws_v2_examples(
    method: str, bucket: str | None, path: str, query: str, headers: dict[str, str], signature: str
) -> None:
    headers = dict(headers, authorization=f"AWS {AWS_KEY}:{signature}")
    view = RequestView(method, path, query, headers, "example.com", bucket)
    result = authenticate(view, secrets, at(headers["date"]))
    assert (result.access_key, result.method) == (AWS_KEY, "sigv2")
    # one second off in the signed date, or a path-style view without the bucket: refused
    next_second = (at(headers["date"]) + datetime.timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S %z")
    later = dict(headers, date=next_second)
    for bad in (dataclasses.replace(view, headers=later), dataclasses.replace(view, raw_path=path + "x")):
        with pytest.raises(S3Error) as info:
            authenticate(bad, secrets, at(headers["date"]))
        assert info.value.code == "SignatureDoesNotMatch"


def test_skew_and_missing_date() -> None:
    method, bucket, path, query, headers, signature = AWS_V2_EXAMPLES[0]
    headers = dict(headers, authorization=f"AWS {AWS_KEY}:{signature}")
    view = RequestView(method, path, query, headers, "example.com", bucket)
    with pytest.raises(S3Error) as info:
        authenticate(view, secrets, at(headers["date"]) + datetime.timedelta(minutes=16))
    assert info.value.code == "RequestTimeTooSkewed"
    no_date = dataclasses.replace(view, headers={"authorization": headers["authorization"]})
    with pytest.raises(S3Error) as info:
        authenticate(no_date, secrets, at(headers["date"]))
    assert info.value.code == "AccessDenied"
    malformed = dataclasses.replace(view, headers=dict(headers, authorization="AWS nocolon"))
    with pytest.raises(S3Error) as info:
        authenticate(malformed, secrets, at(headers["date"]))
    assert info.value.code == "InvalidArgument"


# --- botocore's HmacV1Auth / HmacV1QueryAuth ------------------------------------------------------------

V2_ROUND_TRIPS = [
    ("GET", "/bucket/key.txt", None, None),
    ("GET", "/bucket/%E6%97%A5%E6%9C%AC/a%20b%2Bc", None, None),
    ("GET", "/bucket//double", None, None),
    ("GET", "/bucket", [("acl", "")], None),
    ("GET", "/bucket", [("prefix", "a/b"), ("delimiter", "/"), ("max-keys", "5")], None),
    ("PUT", "/bucket/key", [("partNumber", "3"), ("uploadId", "abc/def+ghi==")], None),
    ("GET", "/bucket/key", [("response-content-disposition", 'attachment; filename="x y.txt"')], None),
    ("GET", "/bucket/key", [("versionId", "v1"), ("tagging", "")], None),
    (
        "POST",
        "/bucket",
        [("delete", "")],
        {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==", "Content-Type": "text/xml"},
    ),
    (
        "PUT",
        "/bucket/key",
        None,
        {"x-amz-meta-a": "  spaced  ", "x-amz-acl": "private", "Content-Type": "a/b"},
    ),
]


@pytest.mark.parametrize(("method", "path", "params", "headers"), V2_ROUND_TRIPS)
def test_botocore_hmacv1(method: str, path: str, params, headers) -> None:
    view = view_of(botocore_request(method, path, params=params, headers=headers, signer="v2"))
    result = accept(view)
    assert (result.access_key, result.method) == (AWS_KEY, "sigv2")


@pytest.mark.parametrize(("method", "path", "params", "headers"), V2_ROUND_TRIPS)
def test_botocore_hmacv1_query(method: str, path: str, params, headers) -> None:
    view = view_of(botocore_request(method, path, params=params, headers=headers, signer="v2-query"))
    result = accept(view)
    assert (result.access_key, result.method) == (AWS_KEY, "sigv2-presigned")
    with pytest.raises(S3Error) as info:
        accept(dataclasses.replace(view, method="DELETE"))
    assert info.value.code == "SignatureDoesNotMatch"


def test_botocore_virtual_host_signs_the_bucket() -> None:
    """Virtual-host requests sign ``/bucket/key``: the app says which bucket the Host named."""
    prepared = botocore_request("GET", "/key.txt", signer="v2", auth_path="/mybucket/key.txt")
    view = view_of(prepared, host="mybucket.s3.local", bucket="mybucket")
    assert accept(view).access_key == AWS_KEY
    with pytest.raises(S3Error):
        accept(dataclasses.replace(view, virtual_host_bucket=None))


def test_presigned_expiry() -> None:
    view = view_of(botocore_request("GET", "/b/k", signer="v2-query", expires=60))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert accept(view, now + datetime.timedelta(seconds=55)).access_key == AWS_KEY
    with pytest.raises(S3Error) as info:
        accept(view, now + datetime.timedelta(seconds=65))
    assert (info.value.code, info.value.message) == ("AccessDenied", "Request has expired")


def test_s3cmd_style_x_amz_date_signs_an_empty_date_line() -> None:
    """s3cmd sends x-amz-date (RFC 1123) and no Date; AWS then signs an empty date line."""
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    sts = f"GET\n\n\n\nx-amz-date:{stamp}\n/bucket/?acl"
    sig = base64.b64encode(hmac.new(b"other-secret", sts.encode(), hashlib.sha1).digest()).decode()
    headers = {"x-amz-date": stamp, "authorization": f"AWS other:{sig}"}
    assert accept(RequestView("GET", "/bucket/", "acl", headers, "h")).access_key == "other"


def test_unknown_key_and_wrong_secret() -> None:
    with pytest.raises(S3Error) as info:
        accept(view_of(botocore_request("GET", "/b/k", signer="v2", key="NOPE")))
    assert info.value.code == "InvalidAccessKeyId"
    with pytest.raises(S3Error) as info:
        accept(view_of(botocore_request("GET", "/b/k", signer="v2-query", secret="bad")))
    assert info.value.code == "SignatureDoesNotMatch"


def test_path_style_bucket_root_signed_with_trailing_slash() -> None:
    """botocore's HmacV1Auth signs ``PUT /bkt`` (CreateBucket, path style) over ``/bkt/``; AWS accepts it."""
    import base64 as b64
    import datetime as _dt
    import hashlib as _hl
    import hmac as _hm

    from gateway.auth import RequestView as _RV
    from gateway.auth import authenticate as _auth

    date = "Mon, 23 Nov 2026 14:28:01 GMT"
    sts = f"PUT\n\n\n{date}\n/bkt/"
    sig = b64.b64encode(_hm.new(b"secret", sts.encode(), _hl.sha1).digest()).decode()
    view = _RV(
        "PUT", "/bkt", "", {"authorization": f"AWS ak:{sig}", "date": date, "content-length": "0"}, "h"
    )
    now = _dt.datetime(2026, 11, 23, 14, 28, 5, tzinfo=_dt.timezone.utc)
    assert _auth(view, {"ak": "secret"}.get, now).access_key == "ak"


def test_presigned_escapes_respelled_in_lower_case_are_refused() -> None:
    view = view_of(botocore_request("GET", "/bucket/key", signer="v2-query"))
    accept(view)
    # a SigV2 signature is 28 base64 characters ending in "=", which the query carries as %3D
    lowered = re.sub(r"%([0-9A-F]{2})", lambda m: "%" + m.group(1).lower(), view.query_string)
    assert lowered != view.query_string
    with pytest.raises(S3Error) as info:
        accept(dataclasses.replace(view, query_string=lowered))
    assert info.value.code == "SignatureDoesNotMatch"
