"""``s3bridge check-config`` as an operator runs it: a real process, real stores, its report and exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.procs import REPO, ServerProcess, free_port, moto_server

SECRET = "never-print-this-secret-0123"


def check(
    tmp_path: Path, doc: dict[str, Any] | str | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway", "check-config", *args]
    if doc is not None:
        path = tmp_path / "gateway.yaml"
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
        argv += ["--config", str(path)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("S3BRIDGE_")}
    environ.update(env or {})
    proc = subprocess.run(argv, cwd=REPO, env=environ, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert SECRET not in proc.stderr + proc.stdout
    return proc


def base(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "credentials": [{"access_key": "ops", "secret_key": SECRET}],
        "backends": {"local": {"type": "fs", "root": str(tmp_path / "data")}},
        **extra,
    }


@pytest.fixture(scope="module")
def moto() -> Iterator[ServerProcess]:
    with moto_server() as server:
        yield server


def test_good_config_with_a_reachable_store(tmp_path: Path, moto: ServerProcess) -> None:
    doc = base(tmp_path)
    doc["backends"]["minio"] = {
        "type": "s3",
        "endpoint": moto.url,
        "access_key": "moto-key",
        "secret_key": "${STORE_SECRET}",
    }
    doc["backends"]["safe"] = {"type": "fallback", "primary": "minio", "secondary": "local"}
    doc["routes"] = [{"bucket": "photos", "backend": "safe", "remote_bucket": "media", "prefix": "p/"}]
    doc["public_buckets"] = [{"bucket": "pub-*"}]
    proc = check(tmp_path, doc, env={"STORE_SECRET": SECRET})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "valid" in out
    assert "credentials: 1 key pair(s): ops" in out
    assert "route: photos -> safe bucket media prefix p/" in out
    assert "route: * -> local" in out
    assert "public read: pub-*" in out
    assert f"backend local (fs root={tmp_path / 'data'}): ok" in out
    assert f"backend minio (s3 endpoint={moto.url}): ok" in out
    assert "backend safe (fallback primary=minio secondary=local): ok" in out
    assert out.rstrip().endswith("result: ok, the gateway would start and reach every backend")


def test_embedded_default(tmp_path: Path) -> None:
    env = {"S3BRIDGE_ACCESS_KEY": "k", "S3BRIDGE_SECRET_KEY": SECRET}
    proc = check(tmp_path, None, "--data-dir", str(tmp_path / "d"), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "embedded default" in proc.stdout
    missing = check(tmp_path, None, "--data-dir", str(tmp_path / "d"))
    assert missing.returncode == 2
    assert "S3BRIDGE_ACCESS_KEY" in missing.stderr


def test_unreachable_backend(tmp_path: Path) -> None:
    doc = base(tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"
    doc["backends"]["dead"] = {
        "type": "s3",
        "endpoint": dead,
        "access_key": "k",
        "secret_key": SECRET,
        "connect_timeout": 1,
    }
    proc = check(tmp_path, doc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"backend dead (s3 endpoint={dead}): FAILED:" in proc.stdout
    assert "backend local (fs" in proc.stdout and "): ok" in proc.stdout
    assert "result: FAILED (1 backend(s) unreachable or refusing: dead)" in proc.stdout
    offline = check(tmp_path, doc, "--no-connect")
    assert offline.returncode == 0
    assert "not contacted" in offline.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"backends": {"x": {"type": "ftp", "root": "/tmp"}}},
            "backends.x.type: unknown backend type 'ftp'",
        ),
        (
            {"routes": [{"bucket": "photos", "backend": "nowhere"}]},
            "routes[0].backend: unknown backend 'nowhere' (known: local)",
        ),
        (
            {"backends": {"r": {"type": "retry", "backend": "ghost"}}},
            "backends.r.backend: unknown backend 'ghost' (known: local, r)",
        ),
        ({"server": {"port": "eighty"}}, "server.port: Input should be a valid integer"),
        (
            {"credentials": [{"access_key": "a", "secret_key": "${CHECK_CONFIG_UNSET_VAR}"}]},
            "CHECK_CONFIG_UNSET_VAR",
        ),
    ],
    ids=["bad-type", "unknown-route-backend", "unknown-member", "bad-value", "missing-env"],
)
def test_broken_configs(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    doc = base(tmp_path)
    for key, value in change.items():
        doc[key] = {**doc[key], **value} if key == "backends" else value
    proc = check(tmp_path, doc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("s3bridge: configuration error: ")
    assert message in proc.stderr
    assert "result: ok" not in proc.stdout


def test_every_problem_on_its_own_line(tmp_path: Path) -> None:
    doc = base(tmp_path, server={"port": 0}, routes=[{"bucket": "p", "backend": "nowhere"}])
    doc["backends"]["local"]["fsynk"] = True
    proc = check(tmp_path, doc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "s3bridge: configuration error: server.port: Input should be greater than or equal to 1 (got 0)",
        "s3bridge: configuration error: backends.local.fsynk: unknown setting for type fs",
        "s3bridge: configuration error: routes[0].backend: unknown backend 'nowhere' (known: local)",
    ]
    assert proc.stdout == ""


def test_not_yaml(tmp_path: Path) -> None:
    proc = check(tmp_path, "backends: [unclosed\n")
    assert proc.returncode == 2
    assert "is not valid YAML" in proc.stderr


def test_not_yaml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    proc = check(tmp_path, "backends:\n  local: {type: fs\n  x: [\n")
    assert proc.returncode == 2
    path = tmp_path / "gateway.yaml"
    assert proc.stderr.splitlines() == [
        f"s3bridge: configuration error: {path} is not valid YAML: line 3, column 4: "
        "expected ',' or '}', but got ':' (while parsing a flow mapping)"
    ]
    assert "<unicode string>" not in proc.stderr


def test_no_credentials_at_all_is_an_error(tmp_path: Path) -> None:
    doc = {"backends": {"local": {"type": "fs", "root": str(tmp_path / "data")}}}
    proc = check(tmp_path, doc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("s3bridge: configuration error: credentials: no key pair and no public")
    assert "403" in proc.stderr
    public = check(tmp_path, {**doc, "public_buckets": [{"bucket": "pub"}]}, "--no-connect")
    assert public.returncode == 0, public.stdout + public.stderr


def test_check_writes_nothing(tmp_path: Path) -> None:
    doc = base(tmp_path)
    doc["backends"]["safe"] = {"type": "fallback", "primary": "local", "secondary": "spare"}
    doc["backends"]["spare"] = {"type": "fs", "root": str(tmp_path / "spare")}
    (tmp_path / "spare").mkdir()
    proc = check(tmp_path, doc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists()
    assert list((tmp_path / "spare").iterdir()) == []


def test_unwritable_fs_root_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    doc = base(tmp_path)
    doc["backends"]["local"]["root"] = str(blocker / "data")
    proc = check(tmp_path, doc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        f"backend local (fs root={blocker / 'data'}): FAILED: BackendUnavailable: {blocker} is not a directory"
        in proc.stdout
    )


def test_a_backend_that_is_down_is_one_short_line(tmp_path: Path) -> None:
    doc = base(tmp_path)
    port = free_port()
    doc["backends"]["dead"] = {
        "type": "s3",
        "endpoint": f"http://127.0.0.1:{port}",
        "access_key": "k",
        "secret_key": SECRET,
        "connect_timeout": 1,
    }
    proc = check(tmp_path, doc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("backend dead ")]
    assert (
        line
        == f"backend dead (s3 endpoint=http://127.0.0.1:{port}): FAILED: BackendUnavailable: Connection refused"
    )
    assert "MaxRetryError" not in proc.stdout
