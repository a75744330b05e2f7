"""The production-shaped gateway configuration both the in-process and the end-to-end production tests
run: three key pairs with different rights (one secret from the environment, one from a file), a public
bucket glob, a virtual-host domain, and a fallback whose primary, behind a retry, is a dead store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.procs import free_port

KEYS = {
    "admin": ("admin-key", "admin-secret-0123456789abcdef"),
    "alice": ("alice-key", "alice-secret-0123456789abcdef"),
    "bob": ("bob-key", "bob-secret-0123456789abcdef"),
}
DOMAIN = "s3.test"
#: The environment variable the admin's secret is read from (``${ADMIN_SECRET}`` in the file).
ADMIN_SECRET_ENV = "ADMIN_SECRET"
#: Buckets the admin creates first, each with a ``hello.txt`` saying ``hello from <bucket>``.
BUCKETS = ("alice-data", "bob-data", "shared", "pub-site", "private-site")


def dead_s3(**extra: Any) -> dict[str, Any]:
    """A ``type: s3`` backend on a loopback port nobody listens on."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    return {
        "type": "s3",
        "endpoint": endpoint,
        "access_key": "k",
        "secret_key": "s",
        "connect_timeout": 1,
        **extra,
    }


def production_config(base: Path) -> dict[str, Any]:
    """The configuration document, its fs root and bob's secret file under ``base``."""
    (base / "bob.secret").write_text(KEYS["bob"][1] + "\n")
    return {
        "server": {"domains": [DOMAIN]},
        "credentials": [
            {"access_key": KEYS["admin"][0], "secret_key": "${" + ADMIN_SECRET_ENV + "}"},
            {
                "access_key": KEYS["alice"][0],
                "secret_key": KEYS["alice"][1],
                "buckets": [
                    {"bucket": "alice-*", "rights": ["read", "write", "list"]},
                    {"bucket": "shared", "rights": ["read", "list"]},
                ],
            },
            {
                "access_key": KEYS["bob"][0],
                "secret_key_file": str(base / "bob.secret"),
                "buckets": [{"bucket": "bob-*", "rights": ["read", "write", "list"]}],
            },
        ],
        "public_buckets": [{"bucket": "pub-*"}],
        "backends": {
            "local": {"type": "fs", "root": str(base / "data")},
            # a store nobody listens for: the retry and fallback composites have work to do
            "dead": dead_s3(access_key="dead-key", secret_key="dead-secret"),
            "rdead": {"type": "retry", "backend": "dead", "attempts": 2, "base_delay": 0, "max_delay": 0},
            "safe": {"type": "fallback", "primary": "rdead", "secondary": "local"},
        },
        "routes": [{"bucket": "safe-*", "backend": "safe"}, {"bucket": "*", "backend": "local"}],
    }
