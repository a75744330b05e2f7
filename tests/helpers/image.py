"""The container image of deploy/Dockerfile, built and run with Debian's podman on this machine.

Facts of this machine the helpers follow: crun refuses its hybrid cgroups, so podman runs with runc and
the cgroupfs manager, and podman's default ulimits must go (a containers.conf of our own, via
CONTAINERS_CONF: the system's files are left alone). The Dockerfile's base image cannot be pulled
offline, so a stand-in is made from Debian's packages with debootstrap (minbase plus python3, its venv
and pip) and passed as the Dockerfile's BASE; its root filesystem is cached under
~/.cache/s3bridge (S3BRIDGE_CACHE), and made again from scratch when absent. pip inside the build gets
the host's CA bundle and index settings through a mounted /etc/pip.conf (the build's volumes are not
part of the image).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.helpers.procs import REPO

CONTAINERS_CONF = """\
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
STANDIN_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
#: The stand-in's local name: what the Dockerfile's pinned base is, made here.
STANDIN_TAG = "localhost/s3bridge-standin/python:3.11-slim-bookworm"
IMAGE_TAG = "localhost/s3bridge:ci"
HOST_CA = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")


def missing_tools() -> list[str]:
    return [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]


def cache_dir() -> Path:
    path = Path(os.environ.get("S3BRIDGE_CACHE") or Path.home() / ".cache" / "s3bridge")
    path.mkdir(parents=True, exist_ok=True)
    return path


def conf_path() -> Path:
    path = cache_dir() / "containers.conf"
    if not path.exists() or path.read_text() != CONTAINERS_CONF:
        path.write_text(CONTAINERS_CONF)
    return path


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(conf_path())}
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"podman {' '.join(args[:3])} failed ({result.returncode}): {result.stderr[-3000:]}"
        )
    return result


def standin_rootfs() -> Path:
    """A tarball of Debian minbase with python3, venv and pip: made once, then reused."""
    tarball = cache_dir() / f"standin-{SUITE}-{STANDIN_PACKAGES.replace(',', '_')}.tar"
    if tarball.exists():
        return tarball
    with tempfile.TemporaryDirectory(dir=cache_dir()) as work:
        root = Path(work) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={STANDIN_PACKAGES}", SUITE, str(root), MIRROR],
            check=True,
            capture_output=True,
            timeout=900,
        )
        partial = Path(work) / "rootfs.tar"
        excluded = [f"--exclude=./{d}/*" for d in ("proc", "sys", "dev", "run", "tmp", "var/cache/apt")]
        subprocess.run(["tar", "-C", str(root), *excluded, "-cf", str(partial), "."], check=True, timeout=300)
        partial.replace(tarball)
    return tarball


def standin_base() -> str:
    """The stand-in base image in podman's store; its tag."""
    if podman("image", "exists", STANDIN_TAG, check=False).returncode != 0:
        podman("import", "--change", 'CMD ["python3"]', str(standin_rootfs()), STANDIN_TAG)
    return STANDIN_TAG


def pip_conf(where: Path) -> Path:
    """The host's pip settings that a build on this network needs: its CA bundle (a TLS proxy)."""
    path = where / "pip.conf"
    path.write_text("[global]\ncert = /etc/ssl/host-ca.crt\n")
    return path


def build(where: Path) -> str:
    """deploy/Dockerfile built from the repository root on the stand-in base; the image's tag."""
    base = standin_base()
    podman(
        "build",
        "--format=docker",  # OCI image configs have no HEALTHCHECK: podman would drop it
        "--pull=never",
        "--network=host",
        "--build-arg",
        f"BASE={base}",
        "-v",
        f"{HOST_CA}:/etc/ssl/host-ca.crt:ro",
        "-v",
        f"{pip_conf(where)}:/etc/pip.conf:ro",
        "-f",
        str(REPO / "deploy" / "Dockerfile"),
        "-t",
        IMAGE_TAG,
        str(REPO),
        timeout=1200,
    )
    return IMAGE_TAG
