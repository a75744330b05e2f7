"""The ``s3bridge`` command's own answers, as an operator runs it: ``--version`` and ``serve --help``."""

from __future__ import annotations

import re
import subprocess
import sys

from gateway.configdoc import ENVIRONMENT
from tests.helpers.procs import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0, proc.stderr
    pyproject = (REPO / "pyproject.toml").read_text()
    (declared,) = re.findall(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert proc.stdout.strip() == f"s3bridge {declared}"


def test_serve_help_lists_the_environment_and_the_precedence() -> None:
    proc = run("serve", "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "environment variables:" in text
    for name, _ in ENVIRONMENT:
        assert f"\n  {name}\n" in text
    order = [text.index(f"  {n}. ") for n in (1, 2, 3)]
    assert order == sorted(order)
    assert "command-line flags" in text.split("  1. ")[1].split("  2. ")[0]
    assert "environment" in text.split("  2. ")[1].split("  3. ")[0]
    assert "configuration file" in text.split("  3. ")[1]
