"""Building the backend tree from the configuration: each named backend once, composites wired to
their members by name, and the router on top when routes need one. Every backend is built with
``server.io_threads``, the size of the thread pool of a backend that blocks (fs, and an SDK backend whose
settings do not set ``max_workers``)."""

from __future__ import annotations

from typing import Any

from backends import catalog
from backends.base import Backend
from gateway.config import Config, ConfigError


def build_backends(config: Config) -> dict[str, Backend]:
    """Every configured backend by name; a composite's members are built before it, cycles refused."""
    built: dict[str, Backend] = {}
    building: list[str] = []

    def lookup(name: str) -> Backend:
        if name in built:
            return built[name]
        if name not in config.backends:
            raise ConfigError(
                f"backends: {building[-1] if building else '?'} refers to unknown backend {name!r}"
            )
        if name in building:
            raise ConfigError(f"backends: {' -> '.join([*building, name])} is a cycle")
        building.append(name)
        settings: Any = config.backends[name]
        try:
            module = catalog.build_module(settings.type)
        except ImportError as exc:
            raise ConfigError(f"backends.{name}.type: {settings.type} is not available: {exc}") from None
        try:
            backend = module.build(settings, name=name, lookup=lookup, io_threads=config.server.io_threads)
        except ConfigError:
            raise
        except (ValueError, OSError) as exc:
            raise ConfigError(f"backends.{name}: {exc}") from None
        building.pop()
        built[name] = backend
        return backend

    for name in config.backends:
        lookup(name)
    return built


def build_root(config: Config) -> Backend:
    """The backend the front end talks to: the only backend, or a router over the configured routes."""
    backends = build_backends(config)
    routes = config.effective_routes()
    if len(routes) == 1 and routes[0].remote_bucket is None and not routes[0].prefix:
        return backends[routes[0].backend]
    from backends.composite.router import Router

    return Router.from_routes([r.model_dump() for r in routes], backends.__getitem__)
