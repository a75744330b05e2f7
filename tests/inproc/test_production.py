"""Running it in production, in-process: health endpoints, the access log, metrics, bucket rights per key
pair and public buckets, on the gateway app assembled as ``s3bridge serve`` assembles it.

What needs the real process stays in ``tests/e2e/test_production.py``: the whole process log holding no
secret, graceful shutdown on SIGTERM, the container entrypoint, metrics shared across workers.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.answers import error_code
from tests.helpers.inproc import InProcessGateway
from tests.helpers.production import ADMIN_SECRET_ENV, BUCKETS, DOMAIN, KEYS, dead_s3, production_config

pytestmark = pytest.mark.anyio

LIVE_PATH, READY_PATH, METRICS_PATH = (
    "/_s3bridge/health/live",
    "/_s3bridge/health/ready",
    "/_s3bridge/metrics",
)
Samples = dict[str, list[tuple[dict[str, str], float]]]


# -- one gateway with three key pairs, a public bucket glob, a virtual-host domain and composites --------
@pytest.fixture
async def gw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[InProcessGateway]:
    monkeypatch.setenv(ADMIN_SECRET_ENV, KEYS["admin"][1])
    config = production_config(tmp_path)
    async with InProcessGateway.over(tmp_path, **config) as gateway:
        for bucket in BUCKETS:
            assert (await as_(gateway, "admin", "PUT", f"/{bucket}")).status_code == 200
            put = await as_(
                gateway, "admin", "PUT", f"/{bucket}/hello.txt", body=f"hello from {bucket}".encode()
            )
            assert put.status_code == 200
        gateway.access.lines.clear()
        yield gateway


async def as_(gw: InProcessGateway, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return await gw.request(method, path, pair=KEYS[who], **kw)


def access_line(gw: InProcessGateway, response: httpx.Response) -> dict[str, Any]:
    rid = response.headers["x-amz-request-id"]
    found = [e for e in gw.access.lines if e["request_id"] == rid]
    assert len(found) == 1, f"expected one access line for {rid}, got {found}"
    return found[0]


async def scrape(gw: InProcessGateway) -> Samples:
    response = await gw.request("GET", METRICS_PATH, signer=None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items()))


# -- health --------------------------------------------------------------------------------------------
async def test_health_endpoints(gw: InProcessGateway) -> None:
    live = await gw.request("GET", LIVE_PATH, signer=None)
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert live.headers["cache-control"] == "no-store"
    ready = await gw.request("GET", READY_PATH, signer=None)
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    on_domain = await gw.request("GET", LIVE_PATH, signer=None, host=DOMAIN)
    assert on_domain.json() == {"status": "ok"}
    assert gw.access.lines == []  # probes are not S3 requests: no access line


async def test_health_path_on_a_bucket_host_is_an_object_key(gw: InProcessGateway) -> None:
    """On ``bucket.<domain>`` the path is a key: the bucket's object answers, not the gateway."""
    assert (await as_(gw, "admin", "PUT", f"/pub-site{LIVE_PATH}", body=b"an object")).status_code == 200
    got = await gw.request("GET", LIVE_PATH, signer=None, host=f"pub-site.{DOMAIN}")
    assert (got.status_code, got.content) == (200, b"an object")
    private = await gw.request("GET", READY_PATH, signer=None, host=f"private-site.{DOMAIN}")
    assert private.status_code == 403 and error_code(private) == "AccessDenied"
    # a bucket named like the prefix cannot exist, so path-style is always the gateway's endpoint
    refused = await as_(gw, "admin", "PUT", "/_s3bridge")
    assert (refused.status_code, error_code(refused)) == (400, "InvalidBucketName")


async def test_readiness_fails_with_an_unreachable_backend_and_access_log_off(tmp_path: Path) -> None:
    config = {
        "credentials": [{"access_key": KEYS["admin"][0], "secret_key": KEYS["admin"][1]}],
        "backends": {"gone": dead_s3()},
        "logging": {"access_log": False},
    }
    async with InProcessGateway.over(tmp_path, **config) as gw:
        assert (await gw.request("GET", LIVE_PATH, signer=None)).status_code == 200
        ready = await gw.request("GET", READY_PATH, signer=None)
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable" and ready.json()["detail"]
        listed = await as_(gw, "admin", "GET", "/")
        assert listed.status_code == 503
        assert gw.access.lines == []


# -- access log ----------------------------------------------------------------------------------------
async def test_access_log_line_per_request(gw: InProcessGateway) -> None:
    body = random.Random(1).randbytes(300_000)
    put = await as_(gw, "alice", "PUT", "/alice-data/dir/log-me.bin", body=body)
    got = await as_(gw, "alice", "GET", "/alice-data/dir/log-me.bin")
    assert got.content == body
    denied = await as_(gw, "alice", "PUT", "/bob-data/nope", body=b"x")
    assert denied.status_code == 403
    v2 = await as_(gw, "alice", "GET", "/alice-data", params={"list-type": "2", "prefix": "dir/"})
    v1 = await as_(gw, "alice", "GET", "/alice-data", params={"prefix": "dir/"})
    assert b"<Key>dir/log-me.bin</Key>" in v2.content and b"<Key>dir/log-me.bin</Key>" in v1.content

    line = access_line(gw, put)
    assert line["operation"] == "PutObject"
    assert line["key_id"] == KEYS["alice"][0]
    assert (line["bucket"], line["status"], line["error"]) == ("alice-data", 200, None)
    assert line["bytes_in"] == len(body)
    assert line["backend"] == "local"
    assert line["remote"] == "127.0.0.1"
    assert line["method"] == "PUT" and line["path"] == "/alice-data/dir/log-me.bin"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0

    line = access_line(gw, got)
    assert (line["operation"], line["status"], line["bytes_out"], line["bytes_in"]) == (
        "GetObject",
        200,
        len(body),
        0,
    )
    line = access_line(gw, denied)
    assert (line["operation"], line["status"], line["error"]) == ("PutObject", 403, "AccessDenied")
    # each listing under its own S3 name
    assert access_line(gw, v2)["operation"] == "ListObjectsV2"
    assert access_line(gw, v1)["operation"] == "ListObjects"


async def test_access_log_holds_no_signature(gw: InProcessGateway) -> None:
    """Presigned (V4 and V2) and header-signed requests: the lines name the key id, never a signature."""
    answers = [
        await as_(gw, "admin", "GET", "/shared/hello.txt", signer="v4-query"),
        await as_(gw, "admin", "GET", "/shared/hello.txt", signer="v2-query"),
        await as_(gw, "admin", "GET", "/shared", params={"list-type": "2"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    signatures = [dict(a.request.url.params) for a in answers[:2]]
    secrets = {
        q[k] for q in signatures for k in ("X-Amz-Signature", "Signature", "X-Amz-Credential") if k in q
    }
    assert len(secrets) == 3
    for answer in answers:
        assert access_line(gw, answer)["key_id"] == KEYS["admin"][0]
    text = repr(gw.access.lines)
    for secret in [*(s for _, s in KEYS.values()), *secrets]:
        assert secret not in text


# -- metrics -------------------------------------------------------------------------------------------
async def test_metrics(gw: InProcessGateway) -> None:
    before = await scrape(gw)
    body = b"m" * 12345
    assert (await as_(gw, "admin", "PUT", "/alice-data/metrics.bin", body=body)).status_code == 200
    assert (await as_(gw, "admin", "GET", "/alice-data/metrics.bin")).content == body
    assert (await as_(gw, "admin", "HEAD", "/alice-data/missing")).status_code == 404
    listed = await as_(gw, "admin", "GET", "/alice-data", params={"list-type": "2", "prefix": "metrics"})
    assert listed.status_code == 200
    after = await scrape(gw)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("s3bridge_requests_total", operation="PutObject", status="200", backend="local") == 1
    assert delta("s3bridge_requests_total", operation="GetObject", status="200", backend="local") == 1
    assert delta("s3bridge_requests_total", operation="HeadObject", status="404") == 1
    assert delta("s3bridge_requests_total", operation="ListObjectsV2", status="200", backend="local") == 1
    assert delta("s3bridge_requests_total", operation="ListObjects", status="200") == 0
    assert delta("s3bridge_request_duration_seconds_count", operation="PutObject") == 1
    assert delta("s3bridge_received_bytes_total", operation="PutObject") == len(body)
    assert delta("s3bridge_sent_bytes_total", operation="GetObject") == len(body)
    assert delta("s3bridge_requests_total", operation="Metrics", status="200") == 1  # the first scrape
    assert value(after, "s3bridge_requests_in_flight") == 1  # the scrape itself


async def test_metrics_export_retries_and_fallbacks(gw: InProcessGateway) -> None:
    """Writes to ``safe-*`` go to a fallback whose primary (behind retry) is down."""
    before = await scrape(gw)
    assert (await as_(gw, "admin", "PUT", "/safe-one")).status_code == 200
    put = await as_(gw, "admin", "PUT", "/safe-one/k", body=b"kept on the secondary")
    assert put.status_code == 200 and put.headers["x-s3bridge-backend"] == "local"
    assert (await as_(gw, "admin", "GET", "/safe-one/k")).content == b"kept on the secondary"
    after = await scrape(gw)
    assert value(after, "s3bridge_backend_retries_total", backend="rdead") > value(
        before, "s3bridge_backend_retries_total", backend="rdead"
    )
    assert (
        value(after, "s3bridge_backend_fallbacks_total", backend="safe")
        - value(before, "s3bridge_backend_fallbacks_total", backend="safe")
        >= 2
    )


async def test_metrics_count_backend_errors(gw: InProcessGateway) -> None:
    missing = await as_(gw, "admin", "GET", "/alice-data/no-such-key")
    assert (missing.status_code, error_code(missing)) == (404, "NoSuchKey")
    assert value(await scrape(gw), "s3bridge_backend_errors_total", backend="local", error="NoSuchKey") >= 1


# -- rights per key pair, public buckets ---------------------------------------------------------------
async def test_key_pairs_with_different_rights(gw: InProcessGateway) -> None:
    assert (await as_(gw, "alice", "PUT", "/alice-data/a.txt", body=b"alice")).status_code == 200
    assert (await as_(gw, "alice", "GET", "/shared/hello.txt")).content == b"hello from shared"
    listing = await as_(gw, "alice", "GET", "/shared", params={"list-type": "2"})
    assert [k.text for k in etree.fromstring(listing.content).iter("{*}Key")] == ["hello.txt"]
    refused = [
        ("alice", "PUT", "/shared/x", b"x"),  # read-only there
        ("alice", "GET", "/bob-data/hello.txt", b""),
        ("alice", "GET", "/bob-data?list-type=2", b""),
        ("alice", "PUT", "/alice-new", b""),  # no admin right
        ("alice", "DELETE", "/alice-data", b""),
        ("bob", "GET", "/alice-data/a.txt", b""),
        ("bob", "HEAD", "/shared", b""),
        ("bob", "GET", "/nonexistent-bucket/k", b""),  # same answer: names do not leak
    ]
    for who, method, path, body in refused:
        response = await as_(gw, who, method, path, body=body)
        assert response.status_code == 403, (who, method, path)
        if method != "HEAD":
            assert error_code(response) == "AccessDenied"
    assert (await as_(gw, "bob", "PUT", "/bob-data/b.txt", body=b"bob")).status_code == 200
    assert (await as_(gw, "bob", "GET", "/bob-data/b.txt")).content == b"bob"


async def test_list_buckets_is_filtered_per_key(gw: InProcessGateway) -> None:
    async def names(who: str) -> set[str]:
        listing = await as_(gw, who, "GET", "/")
        return {n.text or "" for n in etree.fromstring(listing.content).iter("{*}Name")}

    assert await names("alice") == {"alice-data", "shared"}
    assert await names("bob") == {"bob-data"}
    assert {"alice-data", "bob-data", "shared", "pub-site", "private-site"} <= await names("admin")


async def test_unknown_key_is_refused(gw: InProcessGateway) -> None:
    stranger = await gw.request("GET", "/", pair=("stranger", "whatever-0123456789"))
    assert (stranger.status_code, error_code(stranger)) == (403, "InvalidAccessKeyId")


async def test_anonymous_access(gw: InProcessGateway) -> None:
    public = await gw.request("GET", "/pub-site/hello.txt", signer=None)
    assert (public.status_code, public.content) == (200, b"hello from pub-site")
    assert (await gw.request("HEAD", "/pub-site/hello.txt", signer=None)).status_code == 200
    listing = await gw.request("GET", "/pub-site", params={"list-type": "2"}, signer=None)
    assert listing.status_code == 200 and b"<Key>hello.txt</Key>" in listing.content
    for method, path in [
        ("GET", "/private-site/hello.txt"),
        ("GET", "/private-site"),
        ("PUT", "/pub-site/anonymous-write"),
        ("DELETE", "/pub-site/hello.txt"),
        ("GET", "/"),
    ]:
        response = await gw.request(method, path, body=b"x" if method == "PUT" else b"", signer=None)
        assert response.status_code == 403, (method, path)
        assert error_code(response) == "AccessDenied"
    assert (await as_(gw, "admin", "GET", "/pub-site/hello.txt")).content == b"hello from pub-site"
