"""The POST policy on its own (gateway.postpolicy): parsing, every condition, field coverage, and the
SigV4 and SigV2 form signatures (checked against botocore's own form signers), table-driven."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from botocore.auth import HmacV1PostAuth, S3SigV4PostAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway import postpolicy
from gateway.errors import S3Error

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
LATER = "2026-06-01T13:00:00.000Z"
SECRETS = {"AK": "secret-0123456789"}


def encoded(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def policy(*conditions: Any, expiration: str = LATER) -> postpolicy.PostPolicy:
    return postpolicy.parse_policy(encoded({"expiration": expiration, "conditions": list(conditions)}))


def refusal(call: Any) -> tuple[str, str]:
    with pytest.raises(S3Error) as err:
        call()
    return err.value.code, err.value.message


@pytest.mark.parametrize(
    ("conditions", "fields", "failed"),
    [
        ([{"key": "a.txt"}], {"key": "a.txt"}, None),
        ([{"key": "a.txt"}], {"key": "b.txt"}, '["eq", "$key", "a.txt"]'),
        ([["eq", "$key", "a"]], {"key": "a"}, None),
        ([["eq", "$Key", "a"]], {"key": "a"}, None),  # field names are case-insensitive
        ([["starts-with", "$key", "user/"]], {"key": "user/x"}, None),
        ([["starts-with", "$key", "user/"]], {"key": "usr/x"}, '["starts-with", "$key", "user/"]'),
        ([["starts-with", "$key", ""], ["starts-with", "$x-amz-meta-a", ""]], {"key": "k"}, None),
        ([{"key": "k"}, {"x-amz-meta-a": "1"}], {"key": "k"}, '["eq", "$x-amz-meta-a", "1"]'),
        ([{"bucket": "bkt"}, {"key": "k"}], {"key": "k"}, None),
        ([{"bucket": "other"}, {"key": "k"}], {"key": "k"}, '["eq", "$bucket", "other"]'),
        ([["starts-with", "$bucket", "bk"], {"key": "k"}], {"key": "k"}, None),
        ([{"key": "up/${filename}"}], {"key": "up/${filename}"}, None),  # compared before substitution
    ],
)
def test_conditions(conditions: list[Any], fields: dict[str, str], failed: str | None) -> None:
    doc = policy(*conditions)
    if failed is None:
        postpolicy.check_policy(doc, fields, "bkt", NOW)
    else:
        code, message = refusal(lambda: postpolicy.check_policy(doc, fields, "bkt", NOW))
        assert (code, message) == (
            "AccessDenied",
            f"Invalid according to Policy: Policy Condition failed: {failed}",
        )


@pytest.mark.parametrize(
    ("fields", "extra"),
    [
        ({"key": "k", "x-amz-meta-a": "1"}, "x-amz-meta-a"),
        ({"key": "k", "content-type": "text/plain"}, "content-type"),
        ({"key": "k", "x-ignore-me": "1", "policy": "p", "x-amz-signature": "s", "signature": "s",
          "awsaccesskeyid": "AK"}, None),
    ],
)  # fmt: skip
def test_every_field_must_be_named(fields: dict[str, str], extra: str | None) -> None:
    doc = policy({"key": "k"})
    if extra is None:
        postpolicy.check_policy(doc, fields, "bkt", NOW)
    else:
        assert refusal(lambda: postpolicy.check_policy(doc, fields, "bkt", NOW)) == (
            "AccessDenied",
            f"Invalid according to Policy: Extra input fields: {extra}",
        )


@pytest.mark.parametrize(
    ("expiration", "expired"),
    [("2026-06-01T11:59:59Z", True), ("2026-06-01T12:00:00.000Z", True), ("2026-06-01T12:00:01Z", False)],
)
def test_expiration(expiration: str, expired: bool) -> None:
    doc = policy({"key": "k"}, expiration=expiration)
    if expired:
        assert refusal(lambda: postpolicy.check_policy(doc, {"key": "k"}, "b", NOW)) == (
            "AccessDenied",
            "Invalid according to Policy: Policy expired.",
        )
    else:
        postpolicy.check_policy(doc, {"key": "k"}, "b", NOW)


@pytest.mark.parametrize(
    ("ranges", "bounds"),
    [
        ([], (None, None)),
        ([["content-length-range", 1, 100]], (1, 100)),
        ([["content-length-range", "5", "50"]], (5, 50)),
        ([["content-length-range", 1, 100], ["content-length-range", 10, 1000]], (10, 100)),
    ],
)
def test_length_range(ranges: list[Any], bounds: tuple[int | None, int | None]) -> None:
    assert policy(*ranges).length_range == bounds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%%%", "Invalid Policy: Invalid JSON."),
        (base64.b64encode(b"{not json").decode(), "Invalid Policy: Invalid JSON."),
        (encoded([1, 2]), "Invalid Policy: Invalid JSON."),
        (encoded({"conditions": []}), "Invalid Policy: Policy missing expiration."),
        (encoded({"expiration": "tomorrow", "conditions": []}), "Invalid Policy: Invalid 'expiration' value: 'tomorrow'"),
        (encoded({"expiration": LATER}), "Invalid Policy: Policy missing conditions."),
        (encoded({"expiration": LATER, "conditions": [["between", "$key", "a"]]}), "Invalid Policy: Invalid Condition: unknown operation 'between'"),
        (encoded({"expiration": LATER, "conditions": [["eq", "key", "a"]]}), 'Invalid Policy: Invalid Condition: ["eq", "key", "a"]'),
        (encoded({"expiration": LATER, "conditions": [{"key": 1}]}), "Invalid Policy: Invalid Simple-Condition: value must be a string."),
        (encoded({"expiration": LATER, "conditions": [["content-length-range", -1, 5]]}), 'Invalid Policy: Invalid content-length-range: ["content-length-range", -1, 5]'),
        (encoded({"expiration": LATER, "conditions": ["key"]}), 'Invalid Policy: Invalid Condition: "key"'),
    ],
)  # fmt: skip
def test_invalid_policy_documents(text: str, message: str) -> None:
    assert refusal(lambda: postpolicy.parse_policy(text)) == ("InvalidPolicyDocument", message)


def botocore_form(signer: str, secret: str = SECRETS["AK"]) -> dict[str, str]:
    """A form signed by botocore's own POST signers."""
    request = AWSRequest(method="POST", url="http://h/bkt")
    request.context["s3-presign-post-fields"] = {"key": "k"}
    request.context["s3-presign-post-policy"] = {"expiration": LATER, "conditions": [{"key": "k"}]}
    creds = Credentials("AK", secret)
    if signer == "v4":
        S3SigV4PostAuth(creds, "s3", "us-east-1").add_auth(request)
    else:
        HmacV1PostAuth(creds).add_auth(request)
    return {k.lower(): v for k, v in request.context["s3-presign-post-fields"].items()}


@pytest.mark.parametrize("signer", ["v4", "v2"])
def test_signatures_of_botocore_forms(signer: str) -> None:
    assert postpolicy.authenticate(botocore_form(signer), SECRETS.get) == "AK"
    assert refusal(lambda: postpolicy.authenticate(botocore_form(signer, "wrong"), SECRETS.get))[0] == (
        "SignatureDoesNotMatch"
    )
    assert refusal(lambda: postpolicy.authenticate(botocore_form(signer), {}.get))[0] == "InvalidAccessKeyId"


@pytest.mark.parametrize(
    ("drop", "named"),
    [("x-amz-signature", "X-Amz-Signature"), ("x-amz-date", "X-Amz-Date"), ("policy", "policy")],
)
def test_sigv4_form_needs_its_fields(drop: str, named: str) -> None:
    fields = botocore_form("v4")
    del fields[drop]
    code, message = refusal(lambda: postpolicy.authenticate(fields, SECRETS.get))
    assert code == "InvalidArgument"
    assert message.startswith(f"Bucket POST must contain a field named '{named}'.")


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("x-amz-algorithm", "AWS4-HMAC-SHA1"),
        ("x-amz-credential", "AK/20260601/us-east-1/sqs/aws4_request"),
        ("x-amz-date", "yesterday"),
        ("x-amz-date", "20260602T000000Z"),  # not the credential's day
    ],
)
def test_sigv4_form_fields_are_checked(change: str, value: str) -> None:
    fields = botocore_form("v4")
    fields[change] = value
    assert refusal(lambda: postpolicy.authenticate(fields, SECRETS.get))[0] == "InvalidArgument"


def test_anonymous_form() -> None:
    assert postpolicy.authenticate({"key": "k"}, SECRETS.get) is None
