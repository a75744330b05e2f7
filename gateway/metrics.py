"""Prometheus metrics for ``GET /_s3bridge/metrics``.

Each gateway app owns its registry (several apps in one test process must not collide in the global
one). With ``--workers N`` ``s3bridge serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a temporary
directory of its own (removed on exit) unless the environment names one, and the workers share their
counts through prometheus-client's multiprocess mode: any worker's scrape shows them all.

The composites count what they do on plain attributes (``Retry.retries``, ``Fallback.fallbacks``,
``Breaker.rejected``, ``Mirror.degraded``); they are read from the backend tree when a request ends and at
each scrape, and added to real counters, so multiprocess mode aggregates them too. Levels (the fallback
journal's depth and oldest age) are read the same way into gauges, as are each breaker's state
(``s3bridge_breaker_state``: 0 closed, 1 half-open, 2 open) and whether a mirror has written short of a
member since the process started (``s3bridge_mirror_degraded``).

Health probes (``/_s3bridge/health/*``) are not S3 requests: they count in
``s3bridge_health_probes_total`` only. Each store call is timed by backend and operation
(``s3bridge_backend_call_duration_seconds``, fed by ``gateway.backendcalls``). The HTTP layer's limits
(``gateway.connection``) show as open connections, requests in flight there, and refusals by reason.
The process's own series (``process_*``: RSS, CPU seconds, open file descriptors) come from
prometheus-client's ProcessCollector; in multiprocess mode they describe the worker that answered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as prom_mp

from backends import errors as be
from backends.base import Backend
from gateway import connection

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


#: Operations of the health endpoints: probes, not S3 requests.
HEALTH_OPERATIONS = frozenset({"HealthLive", "HealthReady"})
#: A breaker's state as a number a graph can plot and an alert compare.
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


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
            ["operation", "status"],
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
        self.probes = Counter(
            "s3bridge_health_probes", "Health probes answered.", ["probe", "status"], registry=reg
        )
        self.backend_latency = Histogram(
            "s3bridge_backend_call_duration_seconds",
            "Time a store took to answer one call of the backend contract (a stream: to its first byte).",
            ["backend", "operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.breaker_state = self._gauge(
            "s3bridge_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ["backend"]
        )
        self.mirror_degraded = self._gauge(
            "s3bridge_mirror_degraded",
            "1 when a mirror stored a write on fewer than all its members since the process started.",
            ["backend"],
        )
        self.connections = self._gauge(
            "s3bridge_open_connections", "Client connections open.", mode="livesum"
        )
        self.http_in_flight = self._gauge(
            "s3bridge_http_requests_in_flight",
            "Requests the HTTP layer is serving (what max_in_flight limits).",
            mode="livesum",
        )
        self.refusals = Counter(
            "s3bridge_refusals",
            "Connections and requests the HTTP layer refused or dropped, by reason.",
            ["reason"],
            registry=reg,
        )
        if not self.multiprocess:
            ProcessCollector(registry=reg)
        self._seen: dict[tuple[str, int], int] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        #: A request's children (count, duration, bytes in, bytes out) by (operation, status, backend):
        #: one lookup per request, not four.
        self._request_children: dict[tuple[str, str, str], list[Any]] = {}
        self._backend_done: dict[tuple[str, str], Callable[[BaseException | None, float], None]] = {}

    def _gauge(self, name: str, doc: str, labels: list[str] | None = None, mode: str = "livemax") -> Gauge:
        """A level: ``livemax`` across workers (a state), or ``livesum`` (a count per worker)."""
        return Gauge(name, doc, labels or [], registry=self.registry, multiprocess_mode=mode)  # type: ignore[arg-type]

    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, remembered: prometheus-client's lookup validates and joins the
        labels on every call, and each request makes four or five (the label sets are few and fixed)."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def observe(self, record: RequestRecord) -> None:
        status = str(record.status)
        if record.operation in HEALTH_OPERATIONS:
            self._child(self.probes, record.operation, status).inc()
            return
        backend = record.backend or ""
        key = (record.operation, status, backend)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = [
                self._child(self.requests, record.operation, status, backend),
                self._child(self.latency, record.operation, status),
                None,  # the bytes children, made when the operation first moves some (no 0 series before)
                None,
            ]
        children[0].inc()
        children[1].observe(record.duration)
        if record.bytes_in:
            if children[2] is None:
                children[2] = self._child(self.bytes_in, record.operation)
            children[2].inc(record.bytes_in)
        if record.bytes_out:
            if children[3] is None:
                children[3] = self._child(self.bytes_out, record.operation)
            children[3].inc(record.bytes_out)
        if record.backend_error is not None:
            self._child(self.backend_errors, *record.backend_error).inc()
        if self.multiprocess:
            # Another worker's scrape reads this worker's counters from their files, so they are kept
            # current as requests end; a single process syncs at its own scrape (``exposition``).
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
            state = getattr(node, "state", None)
            if isinstance(state, str) and state in BREAKER_STATES:
                self.breaker_state.labels(node.name).set(BREAKER_STATES[state])
            if hasattr(node, "members") and isinstance(getattr(node, "degraded", None), int):
                self.mirror_degraded.labels(node.name).set(1 if node.degraded else 0)  # type: ignore[attr-defined]

    def sync_connections(self) -> None:
        """The HTTP layer's levels now, and its refusals since the last look."""
        stats = connection.STATS
        self.connections.set(stats.open_connections())
        self.http_in_flight.set(stats.in_flight())
        for reason, count in list(stats.refusals.items()):
            key = ("refusal:" + reason, 0)
            delta = count - self._seen.get(key, 0)
            if delta > 0:
                self.refusals.labels(reason).inc(delta)
            self._seen[key] = count

    def backend_call(self, backend: str, operation: str) -> Callable[[BaseException | None, float], None]:
        """A timer for ``gateway.backendcalls``: one observation per store call, by its outcome."""

        done = self._backend_done.get((backend, operation))
        if done is None:
            ok = self._child(self.backend_latency, backend, operation, "ok")

            def done(exc: BaseException | None, seconds: float) -> None:
                if exc is None:
                    ok.observe(seconds)
                    return
                outcome = type(exc).__name__ if isinstance(exc, be.BackendError) else "error"
                self._child(self.backend_latency, backend, operation, outcome).observe(seconds)

            # One per (backend, operation), made on its first call: the contract's methods are few.
            self._backend_done[(backend, operation)] = done
        return done

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        self.sync_composites()
        self.sync_connections()
        if self.multiprocess:
            merged = CollectorRegistry()
            prom_mp.MultiProcessCollector(merged)
            ProcessCollector(registry=merged)  # the worker that answered
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
