"""The CORS matcher and the CORSConfiguration document on their own (gateway.cors), table-driven."""

from __future__ import annotations

import pytest

from gateway import cors
from gateway.cors import CorsConfig, CorsRule
from gateway.errors import S3Error

APP = CorsRule(("http://*.example.com",), ("PUT", "GET"), ("x-amz-*", "Content-Type"), ("ETag",), 600, "app")
ANY = CorsRule(("*",), ("GET",))
EXACT = CorsRule(("https://exact.org",), ("POST",), ("*",))
CONFIG = CorsConfig((APP, ANY, EXACT))


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "", True),
        ("*", "http://a", True),
        ("http://a", "http://a", True),
        ("http://a", "http://A", False),
        ("http://*.example.com", "http://x.example.com", True),
        ("http://*.example.com", "http://.example.com", True),
        ("http://*.example.com", "https://x.example.com", False),
        ("http://*.example.com", "http://example.com", False),
        ("http://localhost:*", "http://localhost:8080", True),
        ("ab*ba", "aba", False),  # the head and tail may not overlap
        ("x-amz-*", "x-amz-meta-a", True),
    ],
)
def test_wildcard_match(pattern: str, value: str, expected: bool) -> None:
    assert cors.wildcard_match(pattern, value) is expected


@pytest.mark.parametrize(
    ("origin", "method", "headers", "rule"),
    [
        ("http://app.example.com", "PUT", [], APP),
        ("http://app.example.com", "PUT", ["x-amz-meta-a", "content-type"], APP),
        ("http://app.example.com", "PUT", ["X-AMZ-DATE", "CONTENT-TYPE"], APP),  # names case-insensitive
        ("http://app.example.com", "PUT", ["authorization"], None),
        ("http://app.example.com", "GET", ["authorization"], None),  # ANY allows no headers
        ("http://app.example.com", "GET", [], APP),  # first match wins
        ("http://other.org", "GET", [], ANY),
        ("http://other.org", "PUT", [], None),
        ("https://exact.org", "POST", ["anything", "else"], EXACT),
        ("https://exact.org.evil", "POST", [], None),
        ("http://app.example.com", "DELETE", [], None),
        ("http://app.example.com", "put", [], None),  # methods are case-sensitive, as HTTP's are
    ],
)
def test_first_matching_rule(origin: str, method: str, headers: list[str], rule: CorsRule | None) -> None:
    assert cors.find_rule(CONFIG, origin, method, headers) == rule


def test_preflight_headers_echo_origin_and_requested_headers() -> None:
    headers = cors.preflight_headers(APP, "http://a.example.com", ["content-type", "x-amz-date"])
    assert headers == {
        "Access-Control-Allow-Origin": "http://a.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "PUT, GET",
        "Access-Control-Expose-Headers": "ETag",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Headers": "content-type, x-amz-date",
        "Vary": cors.VARY,
    }


def test_star_rule_answers_star_without_credentials() -> None:
    headers = cors.response_headers(CONFIG, "http://nowhere", "GET")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    assert cors.response_headers(CONFIG, "http://nowhere", "DELETE") == {}


@pytest.mark.parametrize(
    ("value", "names"),
    [(None, []), ("", []), ("Content-Type", ["content-type"]), (" a ,B,, c", ["a", "b", "c"])],
)
def test_requested_headers(value: str | None, names: list[str]) -> None:
    assert cors.requested_headers(value) == names


@pytest.mark.parametrize(
    ("origin", "method", "message"),
    [
        (None, "GET", "Insufficient information. Origin request header needed."),
        ("http://a", None, "Invalid Access-Control-Request-Method: null"),
        ("http://a", "PATCH", "Invalid Access-Control-Request-Method: PATCH"),
    ],
)
def test_preflight_request_needs_origin_and_method(
    origin: str | None, method: str | None, message: str
) -> None:
    with pytest.raises(S3Error) as err:
        cors.preflight_request(origin, method)
    assert (err.value.code, err.value.status, err.value.message) == ("BadRequest", 400, message)


def test_document_round_trip() -> None:
    parsed = cors.parse_config(cors.to_xml(CONFIG))
    assert parsed == CONFIG


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        (CorsRule((), ("GET",)), "MalformedXML"),
        (CorsRule(("*",), ()), "MalformedXML"),
        (CorsRule(("*",), ("OPTIONS",)), "InvalidRequest"),
        (CorsRule(("*.*",), ("GET",)), "InvalidRequest"),
        (CorsRule(("*",), ("GET",), ("a*b*",)), "InvalidRequest"),
        (CorsRule(("*",), ("GET",), id="x" * 256), "InvalidArgument"),
    ],
    ids=["no-origin", "no-method", "bad-method", "origin-wildcards", "header-wildcards", "long-id"],
)
def test_rule_validation(rule: CorsRule, code: str) -> None:
    with pytest.raises(S3Error) as err:
        cors.validate([rule])
    assert err.value.code == code


def test_rule_count_limits() -> None:
    cors.validate([ANY] * cors.MAX_RULES)
    for count in (0, cors.MAX_RULES + 1):
        with pytest.raises(S3Error) as err:
            cors.validate([ANY] * count)
        assert err.value.code == "MalformedXML"
