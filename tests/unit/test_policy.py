"""gateway.policy: rights per bucket glob, public read for anonymous callers, ListBuckets visibility."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import validate
from gateway.errors import S3Error
from gateway.policy import Policy


def policy(credentials: list[dict[str, Any]], public: list[str] = ()) -> Policy:  # type: ignore[assignment]
    return Policy(
        validate(
            {
                "credentials": credentials,
                "backends": {"local": {"type": "fs", "root": "/tmp/unused"}},
                "public_buckets": [{"bucket": b} for b in public],
            }
        )
    )


@pytest.fixture
def rules() -> Policy:
    return policy(
        [
            {"access_key": "admin", "secret_key": "s-admin"},
            {
                "access_key": "team",
                "secret_key": "s-team",
                "buckets": [
                    {"bucket": "team-ro-*", "rights": ["read", "list"]},
                    {"bucket": "team-*", "rights": ["read", "write", "list"]},
                    {"bucket": "drop", "rights": ["write"]},
                    {"bucket": "owned-?", "rights": ["admin"]},
                ],
            },
        ],
        public=["public-*", "www"],
    )


def test_secret_lookup(rules: Policy) -> None:
    assert rules.secret_for("admin") == "s-admin"
    assert rules.secret_for("team") == "s-team"
    assert rules.secret_for("nobody") is None


def test_default_grant_is_every_right_on_every_bucket(rules: Policy) -> None:
    assert rules.rights("admin", "anything") == {"read", "write", "list", "admin"}


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        ("team-ro-logs", {"read", "list"}),  # the first matching glob decides, not the broader one below
        ("team-data", {"read", "write", "list"}),
        ("drop", {"write"}),
        ("dropbox", set()),  # a name is not a prefix
        ("owned-a", {"read", "write", "list", "admin"}),  # admin implies the others
        ("owned-ab", set()),  # ? is one character
        ("other", set()),
    ],
)
def test_rights_per_glob(rules: Policy, bucket: str, expected: set[str]) -> None:
    assert rules.rights("team", bucket) == expected


def test_unknown_key_has_no_rights(rules: Policy) -> None:
    assert rules.rights("nobody", "team-data") == set()
    assert not rules.allows("nobody", "team-data", "read")


@pytest.mark.parametrize(
    ("bucket", "right", "allowed"),
    [
        ("team-data", "write", True),
        ("team-ro-logs", "write", False),
        ("team-ro-logs", "read", True),
        ("drop", "read", False),
        ("drop", "write", True),
        ("team-data", "admin", False),
        ("owned-x", "admin", True),
        ("other", "list", False),
    ],
)
def test_authorize(rules: Policy, bucket: str, right: str, allowed: bool) -> None:
    assert rules.allows("team", bucket, right) is allowed
    if allowed:
        rules.authorize("team", bucket, right)
    else:
        with pytest.raises(S3Error) as err:
            rules.authorize("team", bucket, right)
        assert err.value.code == "AccessDenied"


def test_service_level_operations_need_only_a_valid_key(rules: Policy) -> None:
    assert rules.allows("team", None, "none")
    assert rules.allows("team", "other", "none")


@pytest.mark.parametrize("bucket", ["public-assets", "www"])
def test_anonymous_reads_public_buckets(rules: Policy, bucket: str) -> None:
    assert rules.is_public(bucket)
    assert rules.allows(None, bucket, "read", public_read=True)
    assert rules.allows(None, bucket, "list", public_read=True)


@pytest.mark.parametrize(
    ("bucket", "right", "public_read"),
    [
        ("private", "read", True),  # not a public bucket
        ("public-assets", "write", False),  # a public bucket, but a write
        ("public-assets", "admin", False),
        ("public-assets", "read", False),  # a read the route does not mark public (e.g. ListParts)
        ("wwwx", "read", True),
    ],
)
def test_anonymous_refused(rules: Policy, bucket: str, right: str, public_read: bool) -> None:
    assert not rules.allows(None, bucket, right, public_read=public_read)
    with pytest.raises(S3Error) as err:
        rules.authorize(None, bucket, right, public_read=public_read)
    assert err.value.code == "AccessDenied"
    assert err.value.status == 403


def test_anonymous_list_buckets_is_refused(rules: Policy) -> None:
    assert not rules.allows(None, None, "none")


def test_list_buckets_filtering(rules: Policy) -> None:
    names = ["team-data", "team-ro-logs", "drop", "other", "owned-z", "public-assets"]
    assert [n for n in names if rules.may_see_bucket("team", n)] == [
        "team-data",
        "team-ro-logs",
        "drop",
        "owned-z",
    ]
    assert [n for n in names if rules.may_see_bucket("admin", n)] == names
    assert not any(rules.may_see_bucket(None, n) for n in names)  # type: ignore[arg-type]
    assert not any(rules.may_see_bucket("nobody", n) for n in names)


def test_key_with_no_grants_sees_nothing() -> None:
    rules = policy([{"access_key": "none", "secret_key": "x", "buckets": []}])
    assert rules.rights("none", "any") == set()
    assert not rules.may_see_bucket("none", "any")
    assert rules.allows("none", None, "none")  # ListBuckets itself: an empty list, not an error


@pytest.mark.parametrize("right", ["read", "write", "list", "admin"])
def test_a_request_naming_no_bucket_is_never_granted_a_bucket_right(rules: Policy, right: str) -> None:
    for key in ("admin", "team"):
        assert not rules.allows(key, None, right)
        with pytest.raises(S3Error):
            rules.authorize(key, None, right)
    assert rules.allows("admin", None, "none")
