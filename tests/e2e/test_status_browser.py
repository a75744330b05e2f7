"""The status page in a real browser: headless Chromium (Debian's ``chromium``) loads it from a real
gateway process, the DOM it builds shows every backend, and a screenshot is kept as the test's artefact
(in the test's tmp dir, copied to ``tests/artifacts/``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, boto3_client
from tests.helpers.procs import REPO, gateway_server
from tests.helpers.production import dead_s3

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "artifacts"
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    argv = [
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env={"HOME": str(profile)})


def test_status_page_renders_in_chromium(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    doc = {
        "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
        "backends": {
            "local": {"type": "fs", "root": str(tmp_path / "data"), "fsync": False},
            "offsite": dead_s3(),
        },
        "routes": [{"bucket": "far-*", "backend": "offsite"}, {"bucket": "*", "backend": "local"}],
    }
    config.write_text(yaml.safe_dump(doc))
    with gateway_server(config=config, log_path=tmp_path / "gw.log") as server:
        s3 = boto3_client(server.url)
        s3.create_bucket(Bucket="seen")
        s3.put_object(Bucket="seen", Key="k", Body=b"shown on the page")
        url = server.url + "/_s3bridge/status"
        dom = chromium(tmp_path / "profile", "--virtual-time-budget=3000", "--dump-dom", url)
        shot = tmp_path / "status-page.png"
        chromium(tmp_path / "profile", "--window-size=1280,900", f"--screenshot={shot}", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<h1>s3bridge " in html
    assert 'data-backend="local"' in html and 'data-backend="offsite"' in html
    assert "healthy" in html and "down: BackendUnavailable: Connection refused" in html
    assert "PutObject" in html and "CreateBucket" in html
    assert SECRET_KEY not in html
    assert shot.exists() and shot.stat().st_size > 10_000, "no screenshot"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / shot.name)
