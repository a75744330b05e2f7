"""The version ``s3bridge --version`` prints and the status page shows.

From the source tree's ``pyproject.toml`` when the package runs from a checkout (``python -m gateway``
in a worktree may sit beside an installed s3bridge of another version), else from the installed
distribution's metadata.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from pathlib import Path

_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"', re.MULTILINE)


@functools.cache
def version() -> str:
    try:
        found = _VERSION_LINE.search(_PYPROJECT.read_text())
    except OSError:
        found = None
    if found:
        return found.group(1)
    try:
        return importlib.metadata.version("s3bridge")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
