"""gateway.bucketpolicy: parsing (MalformedPolicy naming the problem) and evaluation, table-driven, with
the examples of the AWS S3 documentation's bucket-policy pages."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from gateway import bucketpolicy as bp
from gateway.access import Facts, condition_context
from gateway.config import validate
from gateway.errors import S3Error
from gateway.identity import Identities, Identity

BUCKET = "DOC-EXAMPLE-BUCKET".lower()
IDS = Identities(
    validate(
        {
            "credentials": [
                {"access_key": "alice-key", "secret_key": "s1", "display_name": "alice"},
                {"access_key": "bob-key", "secret_key": "s2", "display_name": "bob", "isolated": True},
            ],
            "backends": {"local": {"type": "fs", "root": "/tmp/unused"}},
        }
    )
)
ALICE, BOB = IDS.by_key("alice-key"), IDS.by_key("bob-key")
assert ALICE is not None and BOB is not None
OBJ = f"arn:aws:s3:::{BUCKET}/"
BKT = f"arn:aws:s3:::{BUCKET}"


def parse(*statements: dict[str, Any], **top: Any) -> bp.BucketPolicy:
    doc = {"Version": "2012-10-17", "Statement": list(statements), **top}
    return bp.parse(json.dumps(doc).replace("DOC-EXAMPLE-BUCKET", BUCKET).encode(), BUCKET, IDS)


def ctx(caller: Identity | None = None, **facts: Any) -> dict[str, Any]:
    return dict(condition_context(caller, Facts(**facts)))


# -- the AWS documentation's examples ------------------------------------------------------------------
PUBLIC_PREFIX = {
    "Sid": "PublicReadGetObject",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["s3:GetObject"],
    "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET/publicprefix/*"],
}
TLS_ONLY = {
    "Sid": "RestrictToTLSRequestsOnly",
    "Action": "s3:*",
    "Effect": "Deny",
    "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    "Principal": "*",
}
IP_ALLOW_LIST = {
    "Sid": "IPAllow",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
    "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]}},
}
ONE_USER_PREFIX = [
    {
        "Sid": "AllowListingOfUserFolder",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET",
        "Condition": {"StringLike": {"s3:prefix": ["home/bob/*", "home/bob"]}},
    },
    {
        "Sid": "AllowAllS3ActionsInUserFolder",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/home/bob/*",
    },
]


@pytest.mark.parametrize(
    ("caller", "action", "resource", "expected"),
    [
        (None, "s3:GetObject", OBJ + "publicprefix/a.html", "Allow"),
        (BOB, "s3:GetObject", OBJ + "publicprefix/deep/b", "Allow"),
        (None, "s3:GetObject", OBJ + "private/a.html", None),
        (None, "s3:PutObject", OBJ + "publicprefix/a.html", None),
        (None, "s3:ListBucket", BKT, None),
    ],
)
def test_public_read_of_a_prefix(
    caller: Identity | None, action: str, resource: str, expected: str | None
) -> None:
    policy = parse(PUBLIC_PREFIX)
    assert policy.evaluate(caller, action, resource, ctx(caller)) == expected
    assert policy.is_public()


@pytest.mark.parametrize(("secure", "expected"), [(False, "Deny"), (True, None)])
def test_deny_without_tls(secure: bool, expected: str | None) -> None:
    policy = parse(TLS_ONLY)
    for action, resource in (
        ("s3:GetObject", OBJ + "k"),
        ("s3:ListBucket", BKT),
        ("s3:PutBucketPolicy", BKT),
    ):
        assert policy.evaluate(ALICE, action, resource, ctx(ALICE, secure=secure)) == expected
    assert not policy.is_public()


@pytest.mark.parametrize(
    ("ip", "expected"),
    [("192.0.2.7", None), ("198.51.100.1", "Deny"), ("2001:db8:1234:5678::9", None), ("2001:db8::1", "Deny")],
)
def test_ip_allow_list(ip: str, expected: str | None) -> None:
    policy = parse(IP_ALLOW_LIST, Id="S3PolicyId1")
    assert policy.evaluate(BOB, "s3:GetObject", OBJ + "k", ctx(BOB, source_ip=ip)) == expected


@pytest.mark.parametrize(
    ("caller", "action", "resource", "query", "expected"),
    [
        (BOB, "s3:ListBucket", BKT, {"prefix": "home/bob/"}, "Allow"),
        (BOB, "s3:ListBucket", BKT, {"prefix": "home/bob"}, "Allow"),
        (BOB, "s3:ListBucket", BKT, {"prefix": "home/alice/"}, None),
        (BOB, "s3:ListBucket", BKT, {}, None),  # no prefix: the key is missing, StringLike fails
        (BOB, "s3:PutObject", OBJ + "home/bob/notes.txt", {}, "Allow"),
        (BOB, "s3:PutObject", OBJ + "home/alice/notes.txt", {}, None),
        (ALICE, "s3:PutObject", OBJ + "home/bob/notes.txt", {}, None),
        (None, "s3:GetObject", OBJ + "home/bob/notes.txt", {}, None),
    ],
)
def test_one_key_pair_to_one_prefix(
    caller: Identity | None, action: str, resource: str, query: dict[str, str], expected: str | None
) -> None:
    policy = parse(*ONE_USER_PREFIX)
    assert policy.evaluate(caller, action, resource, ctx(caller, query=query)) == expected
    assert not policy.is_public()


def test_explicit_deny_wins_over_allow() -> None:
    policy = parse(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": f"{OBJ}*"},
        {"Effect": "Deny", "Principal": {"AWS": ["bob-key"]}, "Action": "s3:Delete*", "Resource": f"{OBJ}*"},
    )
    assert policy.evaluate(BOB, "s3:DeleteObject", OBJ + "k", ctx(BOB)) == "Deny"
    assert policy.evaluate(BOB, "s3:GetObject", OBJ + "k", ctx(BOB)) == "Allow"
    assert policy.evaluate(ALICE, "s3:DeleteObject", OBJ + "k", ctx(ALICE)) == "Allow"


def test_restrict_public_buckets_leaves_public_statements_out() -> None:
    policy = parse(PUBLIC_PREFIX)
    assert policy.evaluate(None, "s3:GetObject", OBJ + "publicprefix/a", ctx(), public=False) is None


ANY_OBJECT = {"Effect": "Allow", "Principal": "*", "Resource": f"{OBJ}*"}
EVERYWHERE = {"Effect": "Allow", "Principal": "*", "Resource": [BKT, f"{OBJ}*"]}
BUT_SECRET = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "NotResource": f"{OBJ}secret/*"}


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        ({**ANY_OBJECT, "NotAction": "s3:GetObject"}, "s3:PutObject", OBJ + "k", "Allow"),
        ({**ANY_OBJECT, "NotAction": "s3:GetObject"}, "s3:GetObject", OBJ + "k", None),
        ({**ANY_OBJECT, "Action": "s3:Get*"}, "s3:GetObjectAcl", OBJ + "k", "Allow"),
        ({**ANY_OBJECT, "Action": "S3:getobject"}, "s3:GetObject", OBJ + "k", "Allow"),  # actions ignore case
        ({**ANY_OBJECT, "Action": "s3:Get?bject"}, "s3:GetObject", OBJ + "k", "Allow"),
        ({**ANY_OBJECT, "Action": "s3:GetObject"}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}x/k", None),
        ({**EVERYWHERE, "Action": "*"}, "s3:ListBucket", BKT, "Allow"),
        (BUT_SECRET, "s3:GetObject", OBJ + "secret/x", None),
        (BUT_SECRET, "s3:GetObject", OBJ + "open/x", "Allow"),
    ],
)
def test_actions_and_resources(
    statement: dict[str, Any], action: str, resource: str, expected: str | None
) -> None:
    assert parse(statement).evaluate(BOB, action, resource, ctx(BOB)) == expected


NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("condition", "facts", "holds"),
    [
        ({"StringEquals": {"s3:x-amz-acl": "public-read"}}, {"headers": {"x-amz-acl": "public-read"}}, True),
        ({"StringEquals": {"s3:x-amz-acl": "public-read"}}, {}, False),
        ({"StringNotEquals": {"s3:x-amz-acl": "public-read"}}, {}, True),  # a missing key: negations hold
        ({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}, {}, True),
        ({"StringEqualsIgnoreCase": {"aws:UserAgent": "BOTO3"}}, {"headers": {"user-agent": "boto3"}}, True),
        ({"StringNotEqualsIgnoreCase": {"aws:UserAgent": "BOTO3"}}, {"headers": {"user-agent": "boto3"}}, False),
        ({"StringLike": {"aws:Referer": "https://www.example.com/*"}}, {"headers": {"referer": "https://www.example.com/p"}}, True),
        ({"StringNotLike": {"aws:Referer": "https://www.example.com/*"}}, {"headers": {"referer": "https://evil/"}}, True),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"query": {"max-keys": "10"}}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"query": {"max-keys": "10"}}, False),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"query": {"max-keys": "11"}}, True),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"query": {"max-keys": "11"}}, True),
        ({"StringEquals": {"s3:delimiter": "/"}}, {"query": {"delimiter": "/"}}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, {"now": NOW}, True),
        ({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, {"now": NOW}, False),
        ({"DateGreaterThanEquals": {"aws:EpochTime": "1700000000"}}, {"now": NOW}, True),
        ({"Bool": {"aws:SecureTransport": True}}, {"secure": True}, True),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"source_ip": "10.1.2.3"}, True),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, False),
        ({"Null": {"s3:x-amz-acl": "true"}}, {}, True),
        ({"Null": {"s3:x-amz-acl": "false"}}, {}, False),
        ({"StringEquals": {"aws:username": "bob"}}, {}, True),
        ({"ForAnyValue:StringEquals": {"s3:prefix": ["a", "b"]}}, {"query": {"prefix": "b"}}, True),
        ({"ForAllValues:StringEquals": {"s3:prefix": ["a"]}}, {}, True),
        ({"ForAnyValue:StringEquals": {"s3:prefix": ["a"]}}, {}, False),
        (
            {"StringEquals": {"s3:x-amz-acl": "public-read"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            {"headers": {"x-amz-acl": "public-read"}, "source_ip": "192.168.0.1"},
            False,  # operators are ANDed
        ),
    ],
)  # fmt: skip
def test_conditions(condition: dict[str, Any], facts: dict[str, Any], holds: bool) -> None:
    policy = parse(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BKT, f"{OBJ}*"],
            "Condition": condition,
        }
    )
    expected = "Allow" if holds else None
    assert policy.evaluate(BOB, "s3:ListBucket", BKT, ctx(BOB, **facts)) == expected


def malformed(document: bytes | dict[str, Any]) -> str:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(S3Error) as err:
        bp.parse(raw, BUCKET, IDS)
    assert err.value.code == "MalformedPolicy" and err.value.status == 400
    return err.value.message


GOOD = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{OBJ}*"}


@pytest.mark.parametrize(
    ("document", "named"),
    [
        (b"[]", "valid JSON"),
        (b"{", "valid JSON"),
        ({"Version": "2012-10-17"}, "Statement"),
        ({"Version": "2012-10-17", "Statement": []}, "Statement"),
        ({"Version": "2020-01-01", "Statement": [GOOD]}, "version"),
        ({"Statement": [GOOD], "Extra": 1}, "Extra"),
        ({"Statement": [{**GOOD, "Effect": "Permit"}]}, "effect"),
        ({"Statement": [{k: v for k, v in GOOD.items() if k != "Principal"}]}, "Principal"),
        ({"Statement": [{**GOOD, "NotPrincipal": {"AWS": "bob-key"}}]}, "NotPrincipal"),
        ({"Statement": [{**GOOD, "Principal": {"Service": "logging.s3.amazonaws.com"}}]}, "Service"),
        ({"Statement": [{**GOOD, "Principal": {"AWS": "arn:aws:iam::1:user/carol"}}]}, "principal"),
        ({"Statement": [{**GOOD, "Action": "ec2:RunInstances"}]}, "action"),
        ({"Statement": [{**GOOD, "Action": "s3:GetObjekt"}]}, "action"),
        ({"Statement": [{**GOOD, "NotAction": "s3:GetObject"}]}, "Action and NotAction"),
        ({"Statement": [{**GOOD, "Resource": "arn:aws:s3:::another/*"}]}, "resource"),
        ({"Statement": [{**GOOD, "Resource": "bucket/*"}]}, "resource"),
        ({"Statement": [{**GOOD, "Resource": BKT}]}, "does not apply"),
        ({"Statement": [{**GOOD, "Action": "s3:ListBucket"}]}, "does not apply"),
        ({"Statement": [{**GOOD, "Condition": {"StringSortOf": {"s3:prefix": "a"}}}]}, "Condition type"),
        ({"Statement": [{**GOOD, "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}]}, "condition key"),
        ({"Statement": [{**GOOD, "Condition": {"IpAddress": {"aws:SourceIp": "not-an-ip"}}}]}, "not-an-ip"),
        ({"Statement": [{**GOOD, "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}}]}, "ten"),
        ({"Statement": [{**GOOD, "Condition": {"Bool": {"aws:SecureTransport": "maybe"}}}]}, "maybe"),
        ({"Statement": [{**GOOD, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}]}, "soon"),
        ({"Statement": [{**GOOD, "Condition": {"StringEquals": {"s3:ExistingObjectTag/team": "a"}}}]}, "condition key"),
        ({"Statement": [{**GOOD, "Sid": "x", "Foo": "y"}]}, "Foo"),
    ],
)  # fmt: skip
def test_malformed_policies_name_the_problem(document: bytes | dict[str, Any], named: str) -> None:
    assert named.lower() in malformed(document).lower()


def test_a_single_statement_object_and_the_old_version_are_accepted() -> None:
    doc = {"Version": "2008-10-17", "Statement": GOOD}
    assert bp.parse(json.dumps(doc).encode(), BUCKET, IDS).is_public()


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        (GOOD, True),
        ({**GOOD, "Principal": {"AWS": "*"}}, True),
        ({**GOOD, "Principal": {"AWS": ["bob-key"]}}, False),
        ({**GOOD, "Effect": "Deny"}, False),
        ({**GOOD, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, False),
        ({**GOOD, "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}, True),
        ({**GOOD, "Condition": {"StringLike": {"aws:Referer": "https://example.com/*"}}}, True),
    ],
)
def test_is_public(statement: dict[str, Any], public: bool) -> None:
    assert parse(statement).is_public() is public
