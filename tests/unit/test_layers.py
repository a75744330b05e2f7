"""The layering, read from the import statements: ``gateway`` may import ``backends``, never the reverse;
no provider package imports a sibling provider's package, and nothing outside a provider package imports
one, except where the backend tree is assembled from the configuration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("fs", "s3", "oss", "obs")
#: The front end's modules that build the backend tree from the configuration (and read its settings).
ASSEMBLY = {"gateway/assemble.py", "gateway/config.py"}
#: The catalogue of backend types: it names every provider's settings module (which imports no SDK).
CATALOG = "backends/catalog.py"


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def imports(path: Path, package: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in the file names, anywhere in it, made absolute
    (``package`` is the file's package, for relative imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def provider_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "backends" and parts[1] in PROVIDERS else None


def sources(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", sources("backends"), ids=lambda p: str(p.relative_to(ROOT)))
def test_backends_import_no_gateway_and_no_other_provider(path: Path) -> None:
    rel = path.relative_to(ROOT)
    own = provider_of(".".join(rel.with_suffix("").parts))
    found = imports(path, package_of(path))
    assert not {m for m in found if m == "gateway" or m.startswith("gateway.")}
    foreign = {m for m in found if provider_of(m) not in (None, own)}
    if rel.as_posix() == CATALOG:
        foreign = {m for m in foreign if m.count(".") != 1 and not m.endswith(".settings")}
    assert not foreign, f"{rel} imports another provider's package: {sorted(foreign)}"


@pytest.mark.parametrize("path", sources("gateway"), ids=lambda p: str(p.relative_to(ROOT)))
def test_gateway_imports_no_provider_package_outside_the_assembly(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    if rel in ASSEMBLY:
        return
    found = {m for m in imports(path, package_of(path)) if provider_of(m) is not None}
    assert not found, f"{rel} imports a provider package: {sorted(found)}"


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    """The checks above would pass vacuously if ``imports`` missed a kind of import statement."""
    module = tmp_path / "probe.py"
    module.write_text(
        "def f():\n    from backends.s3 import errors\n    from ..oss import support\n    import backends.fs.io\n"
    )
    found = imports(module, "backends.obs")
    assert {"backends.s3.errors", "backends.oss.support", "backends.fs.io"} <= found
    assert {provider_of(m) for m in found} >= {"s3", "oss", "fs"}
