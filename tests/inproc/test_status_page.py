"""The status page in-process: who may see it (this machine, or a key pair named in ``status.access_keys``
by HTTP Basic) and what it shows (backends with health, breaker and mirror state, requests and errors per
operation, recent errors, version, configuration) without a single secret."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.version import version
from tests.helpers.clients import ACCESS_KEY, SECRET_KEY
from tests.helpers.inproc import InProcessGateway, build_app, config_document
from tests.helpers.production import dead_s3

pytestmark = pytest.mark.anyio
PAGE, JSON = "/_s3bridge/status", "/_s3bridge/status.json"
ADMIN = ("status-admin", "status-admin-secret-0123456789")
STORE_SECRET = "store-secret-never-shown-42"


def gateway(tmp_path: Path, client: tuple[str, int]) -> InProcessGateway:
    dead = dead_s3(secret_key=STORE_SECRET)
    doc = config_document(
        tmp_path / "data",
        credentials=[
            {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
            {"access_key": ADMIN[0], "secret_key": ADMIN[1]},
        ],
        status={"access_keys": [ADMIN[0]]},
    )
    doc["backends"].update(
        dead=dead,
        guard={"type": "breaker", "backend": "dead", "failure_threshold": 1, "reset_timeout": 600},
        pair={"type": "mirror", "members": ["local", "guard"], "write_quorum": 1},
    )
    doc["routes"] = [{"bucket": "*", "backend": "pair"}]
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc))
    return InProcessGateway(build_app(path), client=client)


def basic(pair: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()}


async def test_remote_callers_need_an_admin_key_pair(tmp_path: Path) -> None:
    async with gateway(tmp_path, ("203.0.113.7", 40000)) as gw:
        for path in (PAGE, JSON):
            refused = await gw.request("GET", path, signer=None)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith('Basic realm="s3bridge status"')
            assert "s3bridge" not in refused.text.split("\n", 1)[1]  # nothing past the one line
        wrong = await gw.request("GET", JSON, signer=None, headers=basic((ADMIN[0], "wrong")))
        assert wrong.status_code == 401
        not_listed = await gw.request("GET", JSON, signer=None, headers=basic((ACCESS_KEY, SECRET_KEY)))
        assert not_listed.status_code == 401
        signed = await gw.request("GET", JSON)  # an S3 signature is no way in either
        assert signed.status_code == 401
        admitted = await gw.request("GET", JSON, signer=None, headers=basic(ADMIN))
        assert admitted.status_code == 200
        assert admitted.json()["version"] == version()


async def test_local_callers_but_not_through_an_untrusted_proxy(tmp_path: Path) -> None:
    async with gateway(tmp_path, ("127.0.0.1", 40000)) as gw:
        assert (await gw.request("GET", PAGE, signer=None)).status_code == 200
        proxied = await gw.request("GET", PAGE, signer=None, send_headers={"X-Forwarded-For": "198.51.100.1"})
        assert proxied.status_code == 401


async def test_contents_and_no_secret(tmp_path: Path) -> None:
    async with gateway(tmp_path, ("127.0.0.1", 40000)) as gw:
        assert (await gw.request("PUT", "/shown")).status_code == 200
        assert (await gw.request("PUT", "/shown/k", body=b"data")).status_code == 200
        assert (await gw.request("GET", "/shown/missing")).status_code == 404
        status: dict[str, Any] = (await gw.request("GET", JSON, signer=None)).json()
        page = await gw.request("GET", PAGE, signer=None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    rows = {b["name"]: b for b in status["backends"]}
    assert set(rows) == {"local", "dead", "guard", "pair"}
    assert rows["local"]["healthy"] is True and rows["local"]["calls_5m"] >= 2
    assert (
        rows["dead"]["healthy"] is False
        and rows["dead"]["detail"] == "BackendUnavailable: Connection refused"
    )
    assert rows["guard"]["breaker"] == "open"
    assert rows["pair"]["mirror_degraded_writes"] >= 1
    operations = {o["operation"]: o for o in status["operations"]}
    assert operations["PutObject"] == {"operation": "PutObject", "requests": 1, "errors": 0}
    assert operations["GetObject"]["errors"] == 1
    assert "StatusJson" not in operations and "HealthLive" not in operations
    assert status["recent_errors"][0]["error"] == "NoSuchKey"
    assert status["configuration"]["key_pairs"] == [ACCESS_KEY, ADMIN[0]]
    html = page.text
    for shown in ('data-backend="local"', 'data-backend="dead"', "healthy", "down: BackendUnavailable", "open",
                  "degraded", "PutObject", "NoSuchKey", f"s3bridge {version()}", "<script>"):  # fmt: skip
        assert shown in html
    for secret in (SECRET_KEY, ADMIN[1], STORE_SECRET):
        assert secret not in html and secret not in str(status)
