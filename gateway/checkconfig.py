"""``s3bridge check-config``: would the gateway start with this configuration, and can it serve?

Exit status: 0 when the configuration is valid and every backend answered its check; 1 when the
configuration is valid but a backend failed; 2 (from the CLI) when the configuration itself is wrong.
The report names settings and stores, never a secret: only a backend's location settings are shown.

A check writes nothing: composites are not started (a fallback would create its journal bucket and
replay it), nor a store whose ``start`` makes state (``start_writes``: the fs backend's state
directory); they are checked as they stand. A failure is one short line (``gateway.failures``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from backends.base import Backend
from gateway.assemble import build_backends, build_root
from gateway.config import Config, ConfigError, load
from gateway.failures import short_reason
from gateway.tracing import check_available

#: Seconds each backend gets to answer its check.
CHECK_TIMEOUT = 10.0
#: Settings that say where a store is (shown in the report); everything else may be a secret.
_LOCATION_FIELDS = ("endpoint", "server", "root", "backend", "primary", "secondary", "members")


def run(args: argparse.Namespace) -> int:
    config = load(args.config, data_dir=args.data_dir)
    if not config.credentials and not config.public_buckets:
        raise ConfigError(
            "credentials: no key pair and no public bucket: every request would be refused "
            "(403 AccessDenied); add a credentials section or set S3BRIDGE_ACCESS_KEY/S3BRIDGE_SECRET_KEY"
        )
    check_available(config)
    backends = build_backends(config)
    build_root(config)  # the router over the routes, as serve builds it
    _report_config(args, config)
    if args.no_connect:
        print("backends: not contacted (--no-connect)")
        return 0
    failed = asyncio.run(_probe(config, backends))
    if failed:
        print(f"result: FAILED ({len(failed)} backend(s) unreachable or refusing: {', '.join(failed)})")
        return 1
    print("result: ok, the gateway would start and reach every backend")
    return 0


def _report_config(args: argparse.Namespace, config: Config) -> None:
    srv = config.server
    scheme = "https" if srv.certfile else "http"
    source = args.config or f"(embedded default, data dir {args.data_dir or './data'})"
    print(f"configuration: {source}: valid")
    print(f"listen: {scheme}://{srv.host}:{srv.port}, {srv.workers} worker(s)")
    print(
        f"credentials: {len(config.credentials)} key pair(s): {', '.join(k.access_key for k in config.credentials)}"
    )
    for route in config.effective_routes():
        where = route.backend
        if route.remote_bucket:
            where += f" bucket {route.remote_bucket}"
        if route.prefix:
            where += f" prefix {route.prefix}"
        print(f"route: {route.bucket} -> {where}")
    for public in config.public_buckets:
        print(f"public read: {public.bucket}")


def describe(settings: Any) -> str:
    """A backend's type and where it is (location settings only: never a secret)."""
    parts = [str(settings.type)]
    for field in _LOCATION_FIELDS:
        value = getattr(settings, field, None)
        if value:
            parts.append(f"{field}={value}")
    return " ".join(parts)


def _leaves(backends: dict[str, Backend]) -> list[Backend]:
    """The stores at the bottom of the tree (a composite holds others); every one is named in the file."""
    return [
        b for b in backends.values() if not any(getattr(b, a, None) for a in ("inner", "members", "routes"))
    ]


async def _probe(config: Config, backends: dict[str, Backend]) -> list[str]:
    """Check every configured backend (members before the composites built on them)."""
    failed: list[str] = []
    started = [b for b in _leaves(backends) if not getattr(b, "start_writes", False)]
    try:
        for store in started:
            await store.start()
    except Exception as exc:  # a backend that cannot even start is reported as such, not a traceback
        print(f"backends: FAILED to start: {short_reason(exc)}")
        return list(backends)
    try:
        for name, backend in backends.items():
            began = time.monotonic()
            label = f"backend {name} ({describe(config.backends[name])})"
            try:
                await asyncio.wait_for(backend.check(), CHECK_TIMEOUT)
            except asyncio.TimeoutError:
                failed.append(name)
                print(f"{label}: FAILED: no answer within {CHECK_TIMEOUT:g}s")
            except Exception as exc:  # report every backend, then decide
                failed.append(name)
                print(f"{label}: FAILED: {short_reason(exc)}")
            else:
                print(f"{label}: ok ({(time.monotonic() - began) * 1000:.0f} ms)")
    finally:
        for store in reversed(started):
            await store.close()
    return failed
