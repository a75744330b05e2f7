"""gateway.acl and gateway.identity: canned expansion, grant headers, the AccessControlPolicy document and
what grants allow, table-driven."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway import acl
from gateway.config import validate
from gateway.errors import S3Error
from gateway.identity import Identities, derived_canonical_id

OWNER = "a" * 64
OTHER = "b" * 64
BUCKET_OWNER = "c" * 64
KNOWN = [OWNER, OTHER, BUCKET_OWNER]
ALL, AUTH, LOG = acl.ALL_USERS, acl.AUTHENTICATED_USERS, acl.LOG_DELIVERY


def grants(a: acl.Acl) -> list[tuple[str, str]]:
    return [(g.grantee.value, g.permission) for g in a.grants]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("private", [(OWNER, "FULL_CONTROL")]),
        ("public-read", [(OWNER, "FULL_CONTROL"), (ALL, "READ")]),
        ("public-read-write", [(OWNER, "FULL_CONTROL"), (ALL, "READ"), (ALL, "WRITE")]),
        ("authenticated-read", [(OWNER, "FULL_CONTROL"), (AUTH, "READ")]),
        ("aws-exec-read", [(OWNER, "FULL_CONTROL")]),
        ("bucket-owner-read", [(OWNER, "FULL_CONTROL"), (BUCKET_OWNER, "READ")]),
        ("bucket-owner-full-control", [(OWNER, "FULL_CONTROL"), (BUCKET_OWNER, "FULL_CONTROL")]),
        ("log-delivery-write", [(OWNER, "FULL_CONTROL"), (LOG, "WRITE"), (LOG, "READ_ACP")]),
    ],
)
def test_canned_expansion(name: str, expected: list[tuple[str, str]]) -> None:
    assert grants(acl.canned(name, OWNER, BUCKET_OWNER)) == expected


def test_bucket_owner_acls_on_the_bucket_owners_own_object_are_private() -> None:
    assert acl.canned("bucket-owner-full-control", OWNER, OWNER) == acl.private(OWNER)
    assert acl.canned("bucket-owner-read", OWNER) == acl.private(OWNER)


def test_unknown_canned_acl_is_invalid_argument() -> None:
    with pytest.raises(S3Error) as err:
        acl.canned("world", OWNER)
    assert (err.value.code, err.value.extra["ArgumentName"]) == ("InvalidArgument", "x-amz-acl")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-amz-grant-read": f'id="{OTHER}"'}, [(OTHER, "READ")]),
        ({"x-amz-grant-write": f'uri="{ALL}", id={OTHER}'}, [(ALL, "WRITE"), (OTHER, "WRITE")]),
        (
            {"x-amz-grant-full-control": f'id="{OWNER}"', "x-amz-grant-read-acp": f'uri="{AUTH}"'},
            [(AUTH, "READ_ACP"), (OWNER, "FULL_CONTROL")],
        ),
        ({"x-amz-grant-write-acp": f'id="{OTHER}"'}, [(OTHER, "WRITE_ACP")]),
    ],
)
def test_grant_headers(headers: dict[str, str], expected: list[tuple[str, str]]) -> None:
    parsed = acl.from_grant_headers(headers, OWNER, KNOWN)
    assert parsed is not None and sorted(grants(parsed)) == sorted(expected)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-amz-grant-read": 'emailAddress="x@example.com"'}, "UnresolvableGrantByEmailAddress"),
        ({"x-amz-grant-read": 'id="' + "d" * 64 + '"'}, "InvalidArgument"),
        ({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/Nobody"'}, "InvalidArgument"),
        ({"x-amz-grant-read": "nonsense"}, "InvalidArgument"),
        ({"x-amz-grant-read": 'arn="x"'}, "InvalidArgument"),
        ({"x-amz-acl": "private", "x-amz-grant-read": f'id="{OTHER}"'}, "InvalidRequest"),
    ],
)
def test_bad_grants(headers: dict[str, str], code: str) -> None:
    with pytest.raises(S3Error) as err:
        acl.requested(headers, OWNER, KNOWN)
    assert err.value.code == code


def test_no_acl_asked() -> None:
    assert acl.requested({"content-type": "x"}, OWNER, KNOWN) is None


POLICY = """<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Owner><ID>{owner}</ID><DisplayName>alice</DisplayName></Owner>
  <AccessControlList>{grants}</AccessControlList>
</AccessControlPolicy>"""
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def user_grant(cid: str, perm: str) -> str:
    return f'<Grant><Grantee {XSI} xsi:type="CanonicalUser"><ID>{cid}</ID></Grantee><Permission>{perm}</Permission></Grant>'


def group_grant(uri: str, perm: str) -> str:
    return f'<Grant><Grantee {XSI} xsi:type="Group"><URI>{uri}</URI></Grantee><Permission>{perm}</Permission></Grant>'


def test_policy_document_round_trip() -> None:
    body = POLICY.format(owner=OWNER, grants=user_grant(OWNER, "FULL_CONTROL") + group_grant(ALL, "READ"))
    owner, parsed = acl.parse_policy(etree.fromstring(body.encode()), KNOWN)
    assert owner == OWNER and grants(parsed) == [(OWNER, "FULL_CONTROL"), (ALL, "READ")]
    again = acl.parse_policy(etree.fromstring(acl.to_document(parsed, {OWNER: "alice"}).to_bytes()), KNOWN)
    assert again == (OWNER, parsed)
    assert acl.Acl.from_json(parsed.to_json()) == parsed


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<Other/>", "MalformedACLError"),
        (POLICY.format(owner="", grants=""), "MalformedACLError"),
        (POLICY.format(owner=OWNER, grants=user_grant(OTHER, "EVERYTHING")), "MalformedACLError"),
        (
            POLICY.format(owner=OWNER, grants="<Grant><Permission>READ</Permission></Grant>"),
            "MalformedACLError",
        ),
        (POLICY.format(owner=OWNER, grants=user_grant("e" * 64, "READ")), "InvalidArgument"),
        (
            POLICY.format(
                owner=OWNER,
                grants=f'<Grant><Grantee {XSI} xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b</EmailAddress>'
                "</Grantee><Permission>READ</Permission></Grant>",
            ),
            "UnresolvableGrantByEmailAddress",
        ),
        (
            "<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>",
            "MalformedACLError",
        ),
    ],
)
def test_bad_policy_documents(body: str, code: str) -> None:
    with pytest.raises(S3Error) as err:
        acl.parse_policy(etree.fromstring(body.encode()), KNOWN)
    assert err.value.code == code


PUBLIC_READ = acl.canned("public-read", OWNER)
AUTH_READ = acl.canned("authenticated-read", OWNER)
SHARED = acl.Acl(OWNER, (acl.Grant(acl.Grantee("CanonicalUser", OTHER), "WRITE"),))


@pytest.mark.parametrize(
    ("the_acl", "caller", "permission", "allowed"),
    [
        (PUBLIC_READ, None, "READ", True),
        (PUBLIC_READ, None, "WRITE", False),
        (PUBLIC_READ, OTHER, "READ", True),
        (AUTH_READ, None, "READ", False),
        (AUTH_READ, OTHER, "READ", True),
        (SHARED, OTHER, "WRITE", True),
        (SHARED, OTHER, "READ", False),
        (SHARED, OWNER, "READ", False),  # grant headers replace the whole ACL ...
        (SHARED, OWNER, "WRITE_ACP", True),  # ... but the owner keeps its rights on the ACL itself
        (SHARED, OWNER, "READ_ACP", True),
        (acl.private(OWNER), OWNER, "WRITE", True),  # FULL_CONTROL implies every permission
        (acl.private(OWNER), OTHER, "READ_ACP", False),
    ],
)
def test_allows(the_acl: acl.Acl, caller: str | None, permission: acl.Permission, allowed: bool) -> None:
    assert acl.allows(the_acl, caller, permission) is allowed


def test_public_grants_are_recognised_and_dropped() -> None:
    assert PUBLIC_READ.is_public() and AUTH_READ.is_public() and not SHARED.is_public()
    assert PUBLIC_READ.without_public() == acl.private(OWNER)


def identities() -> Identities:
    return Identities(
        validate(
            {
                "credentials": [
                    {"access_key": "first", "secret_key": "s1"},
                    {
                        "access_key": "second",
                        "secret_key": "s2",
                        "canonical_id": OTHER,
                        "display_name": "Bob",
                    },
                    {"access_key": "rotated", "secret_key": "s3", "canonical_id": OTHER},
                ],
                "backends": {"local": {"type": "fs", "root": "/tmp/unused"}},
            }
        )
    )


def test_identities() -> None:
    ids = identities()
    first = ids.by_key("first")
    assert (
        first is not None
        and first.canonical_id == derived_canonical_id("first") == ids.default_owner.canonical_id
    )
    assert first.display_name == "first" and len(first.canonical_id) == 64
    assert derived_canonical_id("first") == derived_canonical_id("first") != derived_canonical_id("second")
    second = ids.by_key("second")
    assert second is not None and (second.canonical_id, second.display_name) == (OTHER, "Bob")
    rotated = ids.by_key("rotated")
    assert rotated is not None and rotated.canonical_id == OTHER  # two keys, one identity
    assert ids.by_principal("arn:aws:iam::123456789012:user/Bob") == second
    assert ids.by_principal("arn:aws:iam::123456789012:user/second") == second
    assert ids.by_principal(f"arn:aws:iam::{OTHER}:root") == second
    assert ids.by_principal("nobody") is None
    assert ids.named("f" * 64).display_name == "f" * 64  # an owner no longer configured keeps its id


def test_canonical_id_must_be_64_hex_digits() -> None:
    with pytest.raises(Exception, match="canonical_id"):
        validate(
            {
                "credentials": [{"access_key": "k", "secret_key": "s", "canonical_id": "XYZ"}],
                "backends": {"local": {"type": "fs", "root": "/tmp/unused"}},
            }
        )
