"""deploy/constraints.txt: the exact versions every install uses (./s3bridge, .ci/run, the image).

It must pin each runtime dependency and each of theirs exactly, and this environment (installed by
.ci/run with it) must hold exactly those versions, so what CI tested is what the image ships."""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement

from tests.helpers.deploy import DEPLOY, dockerfile
from tests.helpers.procs import REPO

CONSTRAINTS = DEPLOY / "constraints.txt"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"not an exact pin: {line!r}"
            found[canonical(name)] = version
    return found


def runtime_closure() -> set[str]:
    """Every distribution the project's runtime dependencies pull in here (extras included)."""
    declared = [Requirement(r) for r in md.requires("s3bridge") or []]
    pending = [r for r in declared if r.marker is None]  # not the extras (test, ...)
    seen: set[str] = set()
    while pending:
        req = pending.pop()
        name = canonical(req.name)
        if name in seen:
            continue
        seen.add(name)
        for text in md.distribution(req.name).requires or []:
            sub = Requirement(text)
            wanted = sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in (*req.extras, "")
            )
            if wanted:
                pending.append(sub)
    return seen


def test_every_runtime_dependency_is_pinned() -> None:
    missing = runtime_closure() - set(pins())
    assert not missing, f"deploy/constraints.txt lacks {sorted(missing)}"


def test_minio_is_pinned_exactly() -> None:
    # backends/s3 calls minio-py's private _execute and _build_headers: no other version is tested
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins()["minio"])


def test_installed_versions_are_the_pins() -> None:
    """.ci/run installs with -c deploy/constraints.txt, so the tests ran on exactly these versions."""
    wrong = {}
    for name, version in pins().items():
        installed = md.version(name)
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs pinned: {wrong}"


def test_every_install_uses_the_constraints() -> None:
    assert "-c deploy/constraints.txt" in (REPO / ".ci" / "run").read_text()
    assert "deploy/constraints.txt" in (REPO / "s3bridge").read_text()
    run = dockerfile()["RUN"]
    assert "-c /tmp/constraints.txt" in run or "-c constraints.txt" in run
