"""POST object (browser form uploads) and CORS through a real gateway process, with real clients: boto3's
``generate_presigned_post`` (SigV4 and SigV2 forms) and minio-py's ``presigned_post_policy`` posted with
httpx, every refusal S3 gives a form (nothing stored), the success_action_* variants; CORS rules set with
the aws-cli and boto3, and the preflight and actual answers a browser would get."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError
from lxml import etree
from minio import Minio
from minio.datatypes import PostPolicy

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.procs import ServerProcess

ORIGIN = "http://page.example"


@pytest.fixture(scope="module")
def s3v4(gateway: ServerProcess) -> Any:
    return make_client(gateway.url, signature_version="s3v4")


def post(form: dict[str, Any], body: bytes = b"hello form", *, filename: str = "f.txt") -> httpx.Response:
    """Post a presigned form as a browser does: the fields, then the file part."""
    files = {"file": (filename, body, "application/octet-stream")}
    return httpx.post(form["url"], data=form["fields"], files=files, timeout=30)


def error(response: httpx.Response) -> tuple[int, str, str]:
    doc = etree.fromstring(response.content)
    assert doc.findtext("RequestId") == response.headers["x-amz-request-id"]
    return response.status_code, doc.findtext("Code") or "", doc.findtext("Message") or ""


def absent(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "404"
    return False


def test_sigv4_form_stores_the_file_with_its_fields(s3v4: Any, bucket: str) -> None:
    form = s3v4.generate_presigned_post(
        bucket, "docs/a.txt",
        Fields={"Content-Type": "text/plain", "x-amz-meta-owner": "eve", "success_action_status": "201"},
        Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-owner": "eve"}, {"success_action_status": "201"},
                    ["content-length-range", 1, 100]],
        ExpiresIn=300,
    )  # fmt: skip
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    answer = post(form, b"hello v4")
    assert answer.status_code == 201, answer.text
    doc = etree.fromstring(answer.content)
    assert doc.tag == "PostResponse"
    assert (doc.findtext("Bucket"), doc.findtext("Key")) == (bucket, "docs/a.txt")
    assert doc.findtext("ETag") == answer.headers["etag"]
    assert doc.findtext("Location") == answer.headers["location"] == f"{form['url']}/docs/a.txt"
    got = s3v4.get_object(Bucket=bucket, Key="docs/a.txt")
    assert got["Body"].read() == b"hello v4"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "eve"}
    assert got["ETag"] == answer.headers["etag"]


def test_sigv2_form_answers_204_by_default(s3: Any, bucket: str) -> None:
    form = s3.generate_presigned_post(bucket, "v2.bin", ExpiresIn=300)
    assert "AWSAccessKeyId" in form["fields"] and "signature" in form["fields"]
    answer = post(form, b"\x00\x01v2")
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    assert s3.get_object(Bucket=bucket, Key="v2.bin")["Body"].read() == b"\x00\x01v2"


def test_filename_substitution_and_fields_after_the_file_are_ignored(s3v4: Any, bucket: str) -> None:
    form = s3v4.generate_presigned_post(
        bucket, "up/${filename}", Conditions=[["starts-with", "$key", "up/"]], ExpiresIn=300
    )
    files = [("file", ("photo.jpg", b"jpeg bytes", "image/jpeg")), ("x-amz-meta-late", (None, b"ignored"))]
    answer = httpx.post(form["url"], data=form["fields"], files=files, timeout=30)
    assert answer.status_code == 204, answer.text
    head = s3v4.head_object(Bucket=bucket, Key="up/photo.jpg")
    assert head["Metadata"] == {}
    assert head["ContentLength"] == len(b"jpeg bytes")


def test_minio_presigned_post_policy(gateway: ServerProcess, bucket: str) -> None:
    client = Minio(urlsplit(gateway.url).netloc, ACCESS_KEY, SECRET_KEY, secure=False, region="us-east-1")
    policy = PostPolicy(bucket, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
    policy.add_starts_with_condition("key", "minio/")
    policy.add_content_length_range_condition(1, 1024)
    fields = client.presigned_post_policy(policy)
    fields["key"] = "minio/object"
    answer = httpx.post(
        f"{gateway.url}/{bucket}", data=fields, files={"file": ("x", b"from minio")}, timeout=30
    )
    assert answer.status_code == 204, answer.text
    assert client.get_object(bucket, "minio/object").read() == b"from minio"


def test_success_action_redirect(s3v4: Any, bucket: str) -> None:
    target = "http://app.example/done?from=form"
    form = s3v4.generate_presigned_post(
        bucket, "r.txt", Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}], ExpiresIn=300,
    )  # fmt: skip
    answer = post(form)
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "app.example"
    query = parse_qs(location.query)
    assert query["from"] == ["form"]
    assert query["bucket"] == [bucket] and query["key"] == ["r.txt"]
    assert query["etag"] == [answer.headers["etag"]]


@pytest.mark.parametrize(("status", "expected"), [("200", 200), ("204", 204), ("418", 204)])
def test_success_action_status(s3v4: Any, bucket: str, status: str, expected: int) -> None:
    form = s3v4.generate_presigned_post(
        bucket, "s.txt", Fields={"success_action_status": status},
        Conditions=[{"success_action_status": status}], ExpiresIn=300,
    )  # fmt: skip
    answer = post(form)
    assert answer.status_code == expected, answer.text
    assert answer.content == b""


def test_checksum_field_is_verified(s3v4: Any, bucket: str) -> None:
    body = b"checked bytes"
    good = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    for value, key in ((good, "ok.bin"), (base64.b64encode(b"\0\0\0\0").decode(), "bad.bin")):
        form = s3v4.generate_presigned_post(
            bucket, key, Fields={"x-amz-checksum-crc32": value},
            Conditions=[{"x-amz-checksum-crc32": value}], ExpiresIn=300,
        )  # fmt: skip
        answer = post(form, body)
        if key == "ok.bin":
            assert answer.status_code == 204, answer.text
            assert answer.headers["x-amz-checksum-crc32"] == good
        else:
            assert error(answer)[:2] == (400, "BadDigest")
            assert absent(s3v4, bucket, key)


def test_content_length_range_exceeded_stores_nothing(s3v4: Any, bucket: str) -> None:
    form = s3v4.generate_presigned_post(
        bucket, "big.bin", Conditions=[["content-length-range", 1, 1000]], ExpiresIn=300
    )
    status, code, _ = error(post(form, b"x" * (3 * 1024 * 1024)))
    assert (status, code) == (400, "EntityTooLarge")
    assert absent(s3v4, bucket, "big.bin")
    form = s3v4.generate_presigned_post(
        bucket, "small.bin", Conditions=[["content-length-range", 10, 1000]], ExpiresIn=300
    )
    assert error(post(form, b"tiny"))[:2] == (400, "EntityTooSmall")
    assert absent(s3v4, bucket, "small.bin")


def _tampered(form: dict[str, Any], **changes: str | None) -> dict[str, Any]:
    fields = {k: v for k, v in form["fields"].items() if k not in changes or changes[k] is not None}
    fields.update({k: v for k, v in changes.items() if v is not None})
    return {"url": form["url"], "fields": fields}


def _resigned(form: dict[str, Any], policy: str) -> dict[str, Any]:
    """The form with ``policy`` signed properly (SigV4, the key pair's own secret)."""
    _, date, region, service, _ = form["fields"]["x-amz-credential"].split("/")
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return _tampered(form, policy=policy, **{"x-amz-signature": signature})


def _policy(form: dict[str, Any], **changes: Any) -> str:
    document = json.loads(base64.b64decode(form["fields"]["policy"]))
    document.update(changes)
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("case", "status", "code", "message"),
    [
        ("expired", 403, "AccessDenied", "Invalid according to Policy: Policy expired."),
        ("bad-signature", 403, "SignatureDoesNotMatch", None),
        ("edited-policy", 403, "SignatureDoesNotMatch", None),
        ("unknown-key", 403, "InvalidAccessKeyId", None),
        ("other-key", 403, "AccessDenied", 'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "k.txt"]'),
        ("extra-field", 403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"),
        ("no-key", 400, "InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."),
        ("no-signature", 400, "InvalidArgument", "Bucket POST must contain a field named 'X-Amz-Signature'.  If it is specified, please check the order of the fields."),
        ("no-policy", 400, "InvalidArgument", "Bucket POST must contain a field named 'policy'.  If it is specified, please check the order of the fields."),
        ("not-base64", 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."),
        ("no-expiration", 400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration."),
        ("bad-condition", 400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition: unknown operation 'between'"),
        ("public-acl", 400, "AccessControlListNotSupported", None),
        ("wrong-bucket", 403, "AccessDenied", None),
    ],
)  # fmt: skip
def test_refused_forms_store_nothing(
    s3v4: Any, bucket: str, case: str, status: int, code: str, message: str | None
) -> None:
    expires = -60 if case == "expired" else 300
    fields = {"acl": "public-read"} if case == "public-acl" else None
    conditions = [{"acl": "public-read"}] if case == "public-acl" else None
    form = s3v4.generate_presigned_post(
        bucket, "k.txt", Fields=fields, Conditions=conditions, ExpiresIn=expires
    )
    sig = form["fields"]["x-amz-signature"]
    form = {
        "expired": form,
        "public-acl": form,
        "bad-signature": _tampered(form, **{"x-amz-signature": ("0" if sig[0] != "0" else "1") + sig[1:]}),
        "edited-policy": _tampered(form, policy=_policy(form, conditions=[])),
        "unknown-key": _tampered(form, **{"x-amz-credential": "NOPE" + form["fields"]["x-amz-credential"][len(ACCESS_KEY):]}),
        "other-key": _tampered(form, key="other.txt"),
        "extra-field": _tampered(form, **{"x-amz-meta-sneaky": "1"}),
        "no-key": _tampered(form, key=None),
        "no-signature": _tampered(form, **{"x-amz-signature": None}),
        "no-policy": _tampered(form, policy=None),
        "not-base64": _resigned(form, "%%%"),
        "no-expiration": _resigned(form, base64.b64encode(b'{"conditions": []}').decode()),
        "bad-condition": _resigned(form, _policy(form, conditions=[["between", "$key", "a"]])),
        "wrong-bucket": {"url": form["url"].rsplit("/", 1)[0] + "/" + bucket + "-other", "fields": form["fields"]},
    }[case]  # fmt: skip
    answer = post(form)
    got = error(answer)
    assert got[:2] == (status, code), answer.text
    if message is not None:
        assert got[2] == message
    assert absent(s3v4, bucket, "k.txt") and absent(s3v4, bucket, "other.txt")


def test_acl_private_is_accepted(s3v4: Any, bucket: str) -> None:
    for acl in ("private", "bucket-owner-full-control"):
        form = s3v4.generate_presigned_post(
            bucket, f"{acl}.txt", Fields={"acl": acl}, Conditions=[{"acl": acl}], ExpiresIn=300
        )
        assert post(form).status_code == 204


def test_form_without_file_or_not_multipart(s3v4: Any, bucket: str) -> None:
    form = s3v4.generate_presigned_post(bucket, "k", ExpiresIn=300)
    no_file = httpx.post(form["url"], files={k: (None, v) for k, v in form["fields"].items()}, timeout=30)
    assert error(no_file)[:2] == (400, "IncorrectNumberOfFilesInPostRequest")
    urlencoded = httpx.post(form["url"], data=form["fields"], timeout=30)
    assert error(urlencoded)[:2] == (412, "PreconditionFailed")
    assert etree.fromstring(urlencoded.content).findtext("Condition") == (
        "Bucket POST must be of the enclosure-type multipart/form-data"
    )


def test_anonymous_form_on_a_private_bucket_is_refused(gateway: ServerProcess, s3: Any, bucket: str) -> None:
    answer = httpx.post(
        f"{gateway.url}/{bucket}", data={"key": "anon"}, files={"file": ("a", b"anon")}, timeout=30
    )
    assert error(answer)[:2] == (403, "AccessDenied")
    assert absent(s3, bucket, "anon")


def test_large_file_streams_through(s3v4: Any, bucket: str) -> None:
    size = 12 * 1024 * 1024
    body = bytes(range(256)) * (size // 256)
    form = s3v4.generate_presigned_post(bucket, "large", ExpiresIn=300)
    answer = post(form, body)
    assert answer.status_code == 204, answer.text
    assert s3v4.head_object(Bucket=bucket, Key="large")["ContentLength"] == size
    assert s3v4.get_object(Bucket=bucket, Key="large")["Body"].read() == body


# -- CORS ------------------------------------------------------------------------------------------------
def test_cors_with_aws_cli_and_boto3(aws: Any, s3: Any, gateway: ServerProcess, bucket: str) -> None:
    rules = {
        "CORSRules": [
            {"ID": "page", "AllowedOrigins": [ORIGIN], "AllowedMethods": ["PUT", "POST", "GET"],
             "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 120},
        ]
    }  # fmt: skip
    aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", json.dumps(rules))
    got = json.loads(aws("s3api", "get-bucket-cors", "--bucket", bucket).stdout)
    assert got["CORSRules"] == rules["CORSRules"]
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules["CORSRules"]

    preflight = httpx.options(
        f"{gateway.url}/{bucket}/obj",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type,x-amz-date"},
    )  # fmt: skip
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["access-control-allow-methods"] == "PUT, POST, GET"
    assert preflight.headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert preflight.headers["access-control-max-age"] == "120"
    refused = httpx.options(
        f"{gateway.url}/{bucket}/obj",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
    )
    assert error(refused)[:2] == (403, "AccessForbidden")

    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=300)
    put = httpx.put(url, content=b"from a page", headers={"Origin": ORIGIN})
    assert put.status_code == 200, put.text
    assert put.headers["access-control-allow-origin"] == ORIGIN
    assert put.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    denied = httpx.get(f"{gateway.url}/{bucket}/obj", headers={"Origin": ORIGIN})
    assert error(denied)[:2] == (403, "AccessDenied")
    assert denied.headers["access-control-allow-origin"] == ORIGIN  # the page can read the refusal

    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_cors(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    gone = httpx.options(
        f"{gateway.url}/{bucket}/obj", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    )
    assert error(gone)[:2] == (403, "AccessForbidden")
