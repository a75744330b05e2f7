"""Prometheus metrics for ``GET /_s3bridge/metrics``.

Each gateway app owns its registry (several apps in one test process must not collide in the global
one). With ``--workers N`` every worker process counts on its own and a scrape sees the worker that
answered: scrape each pod/process, or set ``PROMETHEUS_MULTIPROC_DIR`` to an empty writable directory
before starting, and the workers share their counts through prometheus-client's multiprocess mode.

The composites count what they do on plain attributes (``Retry.retries``, ``Fallback.fallbacks``,
``Breaker.rejected``, ``Mirror.degraded``); they are read from the backend tree when a request ends and at
each scrape, and added to real counters, so multiprocess mode aggregates them too. Levels (the fallback
journal's depth and oldest age) are read the same way into gauges.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_mp

from backends.base import Backend

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds; S3 latencies span a HEAD on a local disk to a multi-GiB upload.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: Counter attributes the composites keep, and the metric each feeds.
COMPOSITE_COUNTERS = {
    "retries": ("s3bridge_backend_retries", "Attempts repeated after a retryable backend failure."),
    "fallbacks": (
        "s3bridge_backend_fallbacks",
        "Operations the secondary served while the primary was down.",
    ),
    "rejected": ("s3bridge_breaker_rejections", "Calls an open circuit breaker refused without trying."),
    "degraded": (
        "s3bridge_mirror_degraded_writes",
        "Writes a mirror stored on fewer than all its members (its write quorum still met).",
    ),
    "journal_replayed": (
        "s3bridge_fallback_journal_replayed",
        "Fallback journal entries replayed to the primary after an outage.",
    ),
}
#: Gauge attributes the composites keep (None when not applicable), and the metric each feeds.
COMPOSITE_GAUGES = {
    "journal_depth": ("s3bridge_fallback_journal_depth", "Fallback journal entries not replayed yet."),
    "journal_oldest_age": (
        "s3bridge_fallback_journal_oldest_age_seconds",
        "Age of the oldest fallback journal entry not replayed yet (0 when none).",
    ),
}


@dataclass
class RequestRecord:
    """What one request did, as the access log and the metrics see it."""

    request_id: str | None
    operation: str
    method: str
    path: str
    bucket: str | None
    access_key: str | None
    status: int
    error: str | None
    backend: str | None
    bytes_in: int
    bytes_out: int
    duration: float
    remote: str | None
    user_agent: str | None
    #: (backend, contract error type) when a backend error decided the answer.
    backend_error: tuple[str, str] | None = None
    #: Endpoints beside the S3 API (health, metrics): counted, not access-logged.
    internal: bool = False


def walk(backend: Backend) -> Iterator[Backend]:
    """Every backend in the tree under ``backend`` once: routers' routes, wrappers' inner, members."""
    seen: set[int] = set()
    stack = [backend]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        inner = getattr(node, "inner", None)
        if isinstance(inner, Backend):
            stack.append(inner)
        stack.extend(m for m in getattr(node, "members", ()) if isinstance(m, Backend))
        stack.extend(
            r.backend for r in getattr(node, "routes", ()) if isinstance(getattr(r, "backend", None), Backend)
        )


class Metrics:
    def __init__(self, backend: Backend):
        self.backend = backend
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        reg = self.registry
        self.requests = Counter(
            "s3bridge_requests", "Requests answered.", ["operation", "status", "backend"], registry=reg
        )
        self.latency = Histogram(
            "s3bridge_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.bytes_in = Counter(
            "s3bridge_received_bytes", "Request body bytes received.", ["operation"], registry=reg
        )
        self.bytes_out = Counter(
            "s3bridge_sent_bytes", "Response body bytes sent.", ["operation"], registry=reg
        )
        self.in_flight = Gauge(
            "s3bridge_requests_in_flight",
            "Requests being served.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.backend_errors = Counter(
            "s3bridge_backend_errors",
            "Backend errors that decided a request's answer, by backend and contract error type.",
            ["backend", "error"],
            registry=reg,
        )
        self.composite = {
            attr: Counter(metric, doc, ["backend"], registry=reg)
            for attr, (metric, doc) in COMPOSITE_COUNTERS.items()
        }
        self.gauges = {
            attr: Gauge(metric, doc, ["backend"], registry=reg, multiprocess_mode="livemax")
            for attr, (metric, doc) in COMPOSITE_GAUGES.items()
        }
        self._seen: dict[tuple[str, int], int] = {}

    def observe(self, record: RequestRecord) -> None:
        backend = record.backend or ""
        self.requests.labels(record.operation, str(record.status), backend).inc()
        self.latency.labels(record.operation).observe(record.duration)
        if record.bytes_in:
            self.bytes_in.labels(record.operation).inc(record.bytes_in)
        if record.bytes_out:
            self.bytes_out.labels(record.operation).inc(record.bytes_out)
        if record.backend_error is not None:
            self.backend_errors.labels(*record.backend_error).inc()
        self.sync_composites()

    def sync_composites(self) -> None:
        """Add what the composites counted since the last look to the exported counters."""
        for node in walk(self.backend):
            for attr, counter in self.composite.items():
                value = getattr(node, attr, None)
                if not isinstance(value, int) or isinstance(value, bool):
                    continue
                key = (attr, id(node))
                delta = value - self._seen.get(key, 0)
                if delta > 0:
                    counter.labels(node.name).inc(delta)
                self._seen[key] = value
            for attr, gauge in self.gauges.items():
                level = getattr(node, attr, None)
                if isinstance(level, int | float) and not isinstance(level, bool):
                    gauge.labels(node.name).set(level)

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        self.sync_composites()
        if self.multiprocess:
            merged = CollectorRegistry()
            prom_mp.MultiProcessCollector(merged)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
