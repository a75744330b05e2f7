"""The deployment files (``deploy/``) as the tests read them."""

from __future__ import annotations

from tests.helpers.procs import REPO

DEPLOY = REPO / "deploy"


def dockerfile() -> dict[str, str]:
    """Instruction -> argument text (continuation lines joined; the last of a repeated instruction)."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found[word.upper()] = rest.strip()
    return found
