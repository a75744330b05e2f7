"""The AWS SDK for JavaScript v3 (node) against the real gateway: puts, gets with checksums, a streamed
multipart upload (lib-storage), a streamed PUT, presigned PUT (which carries ``x-amz-checksum-crc32``
of an empty body in its query, as the SDK signs it) and GET used with fetch, listing, copy, batch delete.

``.ci/run`` installs the pinned packages (tests/e2e/js/package.json) with npm."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY

JS = Path(__file__).parent / "js"


def test_js_sdk_v3(gateway) -> None:  # type: ignore[no-untyped-def]
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (JS / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
        pytest.fail("the JS SDK is not installed: npm install --prefix tests/e2e/js (.ci/run does it)")
    bucket = f"js-{uuid.uuid4().hex[:10]}"
    proc = subprocess.run(
        [node, str(JS / "client.mjs"), gateway.url, bucket, ACCESS_KEY, SECRET_KEY],
        capture_output=True, text=True, timeout=180, cwd=JS,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    steps = {step[0]: step[1:] for step in json.loads(proc.stdout)}
    assert "ERROR" not in steps, steps.get("ERROR")
    assert steps["get"][0] == "hello js" and steps["get"][1] and steps["get"][2] == {"k": "v"}
    assert steps["multipart equal"][0] is True and steps["multipart equal"][1].endswith('-2"')
    assert steps["stream put size"] == [5000]
    assert steps["presign has crc"] == [True, True]
    assert steps["presigned put"][0] == 200, steps["presigned put"]
    assert steps["presigned get"] == [200, "presigned body"]
    assert steps["list"][0] == ["a b+c.txt", "multi.bin", "presigned.txt", "stream.bin"]
    assert steps["deleted"][0] == 5 and not steps["deleted"][1]
