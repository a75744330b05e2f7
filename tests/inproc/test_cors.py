"""CORS in-process: Put/Get/DeleteBucketCors as S3 answers them, the OPTIONS preflight from the rules
(unsigned, even on a presigned URL's query), and the Access-Control-* headers of actual answers, errors
included; the configuration's default for buckets without rules."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from tests.helpers.answers import assert_s3_error
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio

ORIGIN = "http://app.example.com"
RULES = b"""<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CORSRule><ID>app</ID><AllowedOrigin>http://*.example.com</AllowedOrigin>
    <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>
    <AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
  <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
</CORSConfiguration>"""


def md5(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


async def with_rules(gw: InProcessGateway, body: bytes = RULES) -> None:
    await gw.request("PUT", "/bkt")
    put = await gw.request("PUT", "/bkt", params={"cors": ""}, body=body, headers=md5(body))
    assert put.status_code == 200, put.text


async def test_rules_round_trip_and_delete(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    assert_s3_error(await inproc.request("GET", "/bkt", params={"cors": ""}), 404, "NoSuchCORSConfiguration")
    await with_rules(inproc)
    got = await inproc.request("GET", "/bkt", params={"cors": ""})
    assert got.status_code == 200
    root = etree.fromstring(got.content)
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    rules = root.findall("s3:CORSRule", ns)
    assert len(rules) == 2
    assert rules[0].findtext("s3:ID", namespaces=ns) == "app"
    assert [e.text for e in rules[0].findall("s3:AllowedMethod", ns)] == ["PUT", "GET"]
    assert rules[0].findtext("s3:MaxAgeSeconds", namespaces=ns) == "600"
    deleted = await inproc.request("DELETE", "/bkt", params={"cors": ""})
    assert deleted.status_code == 204
    assert_s3_error(await inproc.request("GET", "/bkt", params={"cors": ""}), 404, "NoSuchCORSConfiguration")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<CORSConfiguration/>", "MalformedXML"),
        (b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>", "MalformedXML"),
        (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>", "InvalidRequest"),
        (b"<CORSConfiguration><CORSRule><AllowedOrigin>http://*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>", "InvalidRequest"),
        (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>x</MaxAgeSeconds></CORSRule></CORSConfiguration>", "MalformedXML"),
        (b"not xml", "MalformedXML"),
        (b"<CORSConfiguration>" + b"<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>" * 101 + b"</CORSConfiguration>", "MalformedXML"),
    ],
    ids=["no-rule", "no-origin", "bad-method", "two-wildcards", "bad-max-age", "not-xml", "101-rules"],
)  # fmt: skip
async def test_bad_configurations_are_refused(inproc: InProcessGateway, body: bytes, code: str) -> None:
    await inproc.request("PUT", "/bkt")
    put = await inproc.request("PUT", "/bkt", params={"cors": ""}, body=body, headers=md5(body))
    assert_s3_error(put, 400, code)
    assert_s3_error(await inproc.request("GET", "/bkt", params={"cors": ""}), 404, "NoSuchCORSConfiguration")


async def test_put_without_content_md5_is_refused(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    put = await inproc.request("PUT", "/bkt", params={"cors": ""}, body=RULES)
    assert_s3_error(put, 400, "InvalidRequest")
    assert "Content-MD5" in put.text


async def test_preflight_allowed(inproc: InProcessGateway) -> None:
    await with_rules(inproc)
    answer = await inproc.request(
        "OPTIONS", "/bkt/some/key", signer=None,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type, X-Amz-Meta-Name"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    h = answer.headers
    assert h["access-control-allow-origin"] == ORIGIN
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-allow-methods"] == "PUT, GET"
    assert h["access-control-allow-headers"] == "content-type, x-amz-meta-name"
    assert h["access-control-expose-headers"] == "ETag"
    assert h["access-control-max-age"] == "600"
    assert h["vary"] == "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


async def test_preflight_of_a_presigned_url_needs_no_valid_signature(inproc: InProcessGateway) -> None:
    """The browser sends the preflight to the presigned URL itself, query and all, without credentials."""
    await with_rules(inproc)
    answer = await inproc.request(
        "OPTIONS", "/bkt/k", signer="v4-query",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN


async def test_wildcard_origin_answers_star(inproc: InProcessGateway) -> None:
    await with_rules(inproc)
    answer = await inproc.request(
        "OPTIONS", "/bkt", signer=None,
        headers={"Origin": "https://elsewhere.org", "Access-Control-Request-Method": "GET"},
    )  # fmt: skip
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Access-Control-Request-Method": "GET"}, 400, "BadRequest"),
        ({"Origin": ORIGIN}, 400, "BadRequest"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH"}, 400, "BadRequest"),
        ({"Origin": "https://elsewhere.org", "Access-Control-Request-Method": "PUT"}, 403, "AccessForbidden"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}, 403, "AccessForbidden"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"}, 403, "AccessForbidden"),
    ],
    ids=["no-origin", "no-method", "bad-method", "origin-not-allowed", "method-not-allowed", "header-not-allowed"],
)  # fmt: skip
async def test_preflight_refused(
    inproc: InProcessGateway, headers: dict[str, str], status: int, code: str
) -> None:
    await with_rules(inproc)
    answer = await inproc.request("OPTIONS", "/bkt/k", signer=None, headers=headers)
    assert_s3_error(answer, status, code)
    assert "access-control-allow-origin" not in answer.headers
    if code == "AccessForbidden":
        doc = etree.fromstring(answer.content)
        assert doc.findtext("Message").startswith("CORSResponse: This CORS request is not allowed.")
        assert doc.findtext("Method") == headers["Access-Control-Request-Method"]
        assert doc.findtext("ResourceType") == "OBJECT"


async def test_preflight_without_rules_is_forbidden(inproc: InProcessGateway) -> None:
    await inproc.request("PUT", "/bkt")
    answer = await inproc.request(
        "OPTIONS", "/bkt", signer=None, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert_s3_error(answer, 403, "AccessForbidden")
    doc = etree.fromstring(answer.content)
    assert doc.findtext("Message") == "CORSResponse: CORS is not enabled for this bucket."
    assert doc.findtext("ResourceType") == "BUCKET"


async def test_actual_answers_carry_the_headers_errors_included(inproc: InProcessGateway) -> None:
    await with_rules(inproc)
    put = await inproc.request("PUT", "/bkt/k", body=b"hello", headers={"Origin": ORIGIN})
    assert put.status_code == 200
    assert put.headers["access-control-allow-origin"] == ORIGIN
    assert put.headers["access-control-expose-headers"] == "ETag"
    missing = await inproc.request("GET", "/bkt/absent", headers={"Origin": ORIGIN})
    assert_s3_error(missing, 404, "NoSuchKey")
    assert missing.headers["access-control-allow-origin"] == ORIGIN
    # DELETE is in no rule: no CORS headers, the browser keeps the answer from the page
    deleted = await inproc.request("DELETE", "/bkt/k", headers={"Origin": ORIGIN})
    assert deleted.status_code == 204
    assert "access-control-allow-origin" not in deleted.headers
    # no Origin, no CORS headers
    plain = await inproc.request("GET", "/bkt/absent")
    assert "access-control-allow-origin" not in plain.headers


async def test_configured_default_applies_to_buckets_without_rules(tmp_path: Path) -> None:
    default = {"rules": [{"allowed_origins": ["http://localhost:*"], "allowed_methods": ["GET", "POST"],
                          "allowed_headers": ["*"], "max_age_seconds": 60}]}  # fmt: skip
    async with InProcessGateway.over(tmp_path, cors=default) as gw:
        await gw.request("PUT", "/plain")
        ok = await gw.request(
            "OPTIONS", "/plain", signer=None,
            headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "x-anything"},
        )  # fmt: skip
        assert ok.status_code == 200, ok.text
        assert ok.headers["access-control-allow-methods"] == "GET, POST"
        assert ok.headers["access-control-max-age"] == "60"
        # a bucket's own rules replace the default
        await gw.request("PUT", "/own")
        body = b"<CORSConfiguration><CORSRule><AllowedOrigin>http://other</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
        await gw.request("PUT", "/own", params={"cors": ""}, body=body, headers=md5(body))
        refused = await gw.request(
            "OPTIONS", "/own", signer=None,
            headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "GET"},
        )  # fmt: skip
        assert_s3_error(refused, 403, "AccessForbidden")
