"""Object Lock's pure parts: the request's lock headers and documents (gateway) and the rules the fs
backend enforces."""

from __future__ import annotations

import datetime as dt

import pytest

from backends import errors as be
from backends.base import ObjectMeta
from backends.fs.objectlock import check_removable, check_retention_change
from gateway.errors import S3Error
from gateway.ops.objectlock import (
    configuration_document,
    default_retention,
    has_integrity_header,
    lock_from_headers,
    lock_headers,
    parse_configuration,
)

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
FUTURE = "2030-06-01T00:00:00.000Z"


def _code(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(S3Error) as err:
        fn(*args)
    return err.value.code


def test_lock_headers_parsed_and_checked() -> None:
    asked = lock_from_headers(
        {
            "x-amz-object-lock-mode": "GOVERNANCE",
            "x-amz-object-lock-retain-until-date": "2030-06-01T00:00:00Z",
        },
        NOW,
    )
    assert asked == {"lock_mode": "GOVERNANCE", "lock_retain_until": FUTURE}
    assert lock_from_headers({"x-amz-object-lock-legal-hold": "OFF"}, NOW) == {"legal_hold": False}
    assert lock_from_headers({}, NOW) == {}
    bad = [
        {"x-amz-object-lock-mode": "GOVERNANCE"},
        {"x-amz-object-lock-retain-until-date": FUTURE},
        {"x-amz-object-lock-mode": "governance", "x-amz-object-lock-retain-until-date": FUTURE},
        {
            "x-amz-object-lock-mode": "COMPLIANCE",
            "x-amz-object-lock-retain-until-date": "2029-01-01T00:00:00Z",
        },
        {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "tomorrow"},
        {"x-amz-object-lock-legal-hold": "on"},
    ]
    for headers in bad:
        assert _code(lock_from_headers, headers, NOW) == "InvalidArgument", headers


def test_configuration_round_trip_and_defaults() -> None:
    document = configuration_document("COMPLIANCE", None, 2)
    assert parse_configuration(document) == ("COMPLIANCE", None, 2)
    assert default_retention(document, NOW) == {
        "lock_mode": "COMPLIANCE",
        "lock_retain_until": "2032-01-01T00:00:00.000Z",
    }
    assert default_retention(configuration_document(None, None, None), NOW) == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<ObjectLockConfiguration/>", "MalformedXML"),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>", "MalformedXML"),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
         b"<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>", "MalformedXML"),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
         b"<Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>", "InvalidArgument"),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
         b"<Mode>STRICT</Mode><Days>3</Days></DefaultRetention></Rule></ObjectLockConfiguration>", "MalformedXML"),
    ],
    ids=["empty", "disabled", "days-and-years", "zero-days", "bad-mode"],
)  # fmt: skip
def test_bad_configurations(body: bytes, code: str) -> None:
    assert _code(parse_configuration, body) == code


def test_response_headers_and_integrity() -> None:
    meta = ObjectMeta(lock_mode="GOVERNANCE", lock_retain_until=FUTURE, legal_hold=False)
    assert lock_headers(meta) == {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": FUTURE,
        "x-amz-object-lock-legal-hold": "OFF",
    }
    assert lock_headers(ObjectMeta()) == {}
    assert has_integrity_header({"content-md5": "x"})
    assert has_integrity_header({"x-amz-checksum-crc32": "x"})
    assert has_integrity_header({"x-amz-trailer": "x-amz-checksum-crc32"})
    assert not has_integrity_header({"x-amz-checksum-mode": "ENABLED", "content-length": "3"})


def test_fs_rules() -> None:
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    much_later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()
    compliance = {"lock_mode": "COMPLIANCE", "lock_retain_until": later}
    governance = {"lock_mode": "GOVERNANCE", "lock_retain_until": later}
    for meta, bypass in ((compliance, True), (governance, False), ({"legal_hold": True}, True)):
        with pytest.raises(be.ObjectLocked):
            check_removable(meta, bypass, "fs")
    check_removable(governance, True, "fs")
    check_removable(
        {"lock_mode": "COMPLIANCE", "lock_retain_until": "2000-01-01T00:00:00+00:00"}, False, "fs"
    )
    check_removable({"legal_hold": False}, False, "fs")
    check_retention_change(compliance, "COMPLIANCE", much_later, False, "fs")
    check_retention_change(governance, "COMPLIANCE", later, False, "fs")
    check_retention_change(governance, None, None, True, "fs")
    for mode, until in (
        ("GOVERNANCE", much_later),
        ("COMPLIANCE", "2000-01-01T00:00:00+00:00"),
        (None, None),
    ):
        with pytest.raises(be.ObjectLocked):
            check_retention_change(compliance, mode, until, True, "fs")
    with pytest.raises(be.ObjectLocked):
        check_retention_change(governance, None, None, False, "fs")
