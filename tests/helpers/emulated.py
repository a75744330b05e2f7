"""The OSS and OBS wire emulators (``tests.emulators``) as store processes, and the settings of the
backends that reach them; shared by the contract suites and the provider backends' own tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

from backends.base import Backend
from backends.oss.backend import Settings as OssSettings
from backends.oss.backend import build as build_oss
from tests.helpers.bodies import started
from tests.helpers.procs import ServerProcess, free_port, http_ready

OSS_AK, OSS_SK = "oss-test-ak", "oss-test-sk-0123456789abcdef"
OSS_REGION, OSS_DOMAIN = "cn-hangzhou", "oss.localtest"
OBS_AK, OBS_SK = "obs-test-ak", "obs-test-sk-0123456789abcdef"


def no_lookup(name: str) -> Backend:
    """A provider backend names no other backend; building one never looks any up."""
    raise KeyError(name)


def oss_emulator(root: Path, *, security_token: str | None = None) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "tests.emulators.oss", "--port", str(port), "--access-key", OSS_AK]
    argv += ["--secret-key", OSS_SK, "--region", OSS_REGION, "--domain", OSS_DOMAIN]
    argv += ["--data-dir", str(root / "data")]
    if security_token:
        argv += ["--security-token", security_token]
    return ServerProcess(argv, port, log_path=root / "emulator.log")


def oss_settings(server: ServerProcess, auth_version: str = "v4", **changes: object) -> OssSettings:
    values: dict[str, object] = {
        "type": "oss",
        "endpoint": f"http://{OSS_DOMAIN}:{server.port}",
        "region": OSS_REGION,
        "access_key_id": OSS_AK,
        "access_key_secret": OSS_SK,
        "auth_version": auth_version,
        "connect_address": "127.0.0.1",
        "connect_timeout": 10,
        "max_workers": 4,
        "meta_bucket": "s3bridge-contract-meta",
    }
    values.update(changes)
    return OssSettings.model_validate(values)


async def started_oss(settings: OssSettings, name: str = "oss-test") -> AsyncIterator[Backend]:
    async for backend in started(build_oss(settings, name=name, lookup=no_lookup)):
        yield backend


def obs_emulator(root: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "tests.emulators.obs", "--port", str(port), "--access-key", OBS_AK]
    argv += ["--secret-key", OBS_SK, "--data-dir", str(root / "data")]
    return ServerProcess(argv, port, log_path=root / "emulator.log", ready=http_ready("/"))
