"""A real browser: headless Chromium loads a page served from a public-read bucket through the gateway,
and the page's script uploads one file with a presigned POST form and another with ``fetch()`` to a
presigned PUT URL, then reads both back, all cross-origin (the page is on ``http://localhost:PORT``, the
API on ``http://127.0.0.1:PORT``) under the bucket's CORS rule for the page's origin. The test checks the
bytes through boto3 and keeps a screenshot of the page (``tests/artifacts/browser-upload.png``).

Chromium is driven over the DevTools protocol (``--remote-debugging-port``, the ``websockets`` client).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import ClientConnection, connect

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.procs import REPO, ServerProcess, free_port, gateway_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "artifacts"
SITE, UPLOADS = "site", "uploads"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>s3bridge browser upload</title></head>
<body><h1>Browser upload through s3bridge</h1>
<pre id="log"></pre><pre id="result" style="white-space: pre-wrap"></pre>
<script>
const plan = PLAN_JSON;
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
async function run() {
  const out = {origin: location.origin};
  const form = new FormData();
  for (const [name, value] of Object.entries(plan.post.fields)) form.append(name, value);
  form.append("file", new Blob([plan.postText], {type: "text/plain"}), "hello.txt");
  const posted = await fetch(plan.post.url, {method: "POST", body: form});
  out.postStatus = posted.status;
  out.postETag = posted.headers.get("ETag");
  log("POST form -> " + posted.status + " " + out.postETag);
  const bytes = new Uint8Array(plan.putSize);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256;
  const put = await fetch(plan.putUrl, {method: "PUT", body: bytes, headers: {"Content-Type": "application/x-test"}});
  out.putStatus = put.status;
  out.putETag = put.headers.get("ETag");
  log("PUT fetch -> " + put.status + " " + out.putETag);
  out.readPost = await (await fetch(plan.getPostUrl)).text();
  const back = new Uint8Array(await (await fetch(plan.getPutUrl)).arrayBuffer());
  out.readPutSize = back.length;
  out.readPutSame = back.length === bytes.length && back.every((b, i) => b === bytes[i]);
  log("read back: " + JSON.stringify(out.readPost) + ", " + back.length + " bytes, same: " + out.readPutSame);
  return out;
}
run().then(
  (out) => { document.getElementById("result").textContent = JSON.stringify(out); },
  (err) => { document.getElementById("result").textContent = JSON.stringify({error: String(err)}); },
);
</script></body></html>
"""


@pytest.fixture(scope="module")
def site_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A gateway whose ``site`` bucket is public-read (the page is served from it, anonymously)."""
    base = tmp_path_factory.mktemp("browser")
    config = base / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
                "backends": {"local": {"type": "fs", "root": str(base / "data")}},
                "public_buckets": [{"bucket": SITE}],
            }
        )
    )
    server = gateway_server(
        config=config, access_key=ACCESS_KEY, secret_key=SECRET_KEY, log_path=base / "gateway.log"
    )
    server.start()
    yield server
    server.stop()


class DevTools:
    """One page of a headless Chromium, over the DevTools protocol."""

    def __init__(self, ws: ClientConnection):
        self._ws = ws
        self._id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[DevTools]:
    port = free_port()
    argv = [
        str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1", "--window-size=1000,700", "about:blank",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=1).json()
                if any(t["type"] == "page" for t in targets):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024) as ws:
            yield DevTools(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_page_uploads_with_presigned_post_and_put(
    site_gateway: ServerProcess, chromium: DevTools, tmp_path: Path
) -> None:
    api = site_gateway.url  # http://127.0.0.1:PORT
    page_origin = f"http://localhost:{site_gateway.port}"
    s3 = make_client(api, signature_version="s3v4")
    s3.create_bucket(Bucket=SITE)
    s3.create_bucket(Bucket=UPLOADS)
    s3.put_bucket_cors(
        Bucket=UPLOADS,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": [page_origin], "AllowedMethods": ["GET", "PUT", "POST"],
                 "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}
            ]
        },
    )  # fmt: skip
    post_text = f"posted from chromium {tmp_path.name}"
    plan = {
        "post": s3.generate_presigned_post(UPLOADS, "from-form.txt", ExpiresIn=600),
        "postText": post_text,
        "putUrl": s3.generate_presigned_url(
            "put_object", Params={"Bucket": UPLOADS, "Key": "from-fetch.bin"}, ExpiresIn=600
        ),
        "putSize": 100_000,
        "getPostUrl": s3.generate_presigned_url(
            "get_object", Params={"Bucket": UPLOADS, "Key": "from-form.txt"}, ExpiresIn=600
        ),
        "getPutUrl": s3.generate_presigned_url(
            "get_object", Params={"Bucket": UPLOADS, "Key": "from-fetch.bin"}, ExpiresIn=600
        ),
    }
    s3.put_object(
        Bucket=SITE, Key="index.html", Body=PAGE.replace("PLAN_JSON", json.dumps(plan)).encode(),
        ContentType="text/html; charset=utf-8",
    )  # fmt: skip

    chromium.call("Page.enable")
    chromium.call("Page.navigate", url=f"{page_origin}/{SITE}/index.html")
    deadline = time.monotonic() + 60
    result = ""
    while time.monotonic() < deadline and not result:
        time.sleep(0.25)
        result = (
            chromium.evaluate(
                "document.getElementById('result') && document.getElementById('result').textContent"
            )
            or ""
        )
    shot = base64.b64decode(chromium.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "browser-upload.png").write_bytes(shot)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "browser-upload.png", ARTIFACTS / "browser-upload.png")
    assert result, "the page's script did not finish in 60 s"
    out = json.loads(result)
    assert "error" not in out, out
    assert out["origin"] == page_origin
    assert (out["postStatus"], out["putStatus"]) == (204, 200), out
    assert out["readPost"] == post_text
    assert out["readPutSize"] == 100_000 and out["readPutSame"] is True

    form_object = s3.get_object(Bucket=UPLOADS, Key="from-form.txt")
    assert form_object["Body"].read() == post_text.encode()
    assert form_object["ETag"] == out["postETag"]  # exposed to the page by the CORS rule
    fetched = s3.get_object(Bucket=UPLOADS, Key="from-fetch.bin")
    assert fetched["Body"].read() == bytes((i * 7) % 256 for i in range(100_000))
    assert fetched["ETag"] == out["putETag"]
    assert fetched["ContentType"] == "application/x-test"
    # The PUT was cross-origin and not "simple": the browser asked first, and the gateway said yes.
    log = (site_gateway.log_path or Path("/dev/null")).read_text()
    assert '"operation": "PreflightRequest"' in log or '"operation":"PreflightRequest"' in log
