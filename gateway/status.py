"""What the status page shows, gathered in this worker process: each backend's health and latency, breaker
states, mirror degradation, requests and errors per operation over the last minutes, recent errors, the
version and a summary of the configuration that names no secret.

Fed as requests end (``observe``, a sink of the measuring middleware) and as stores answer (``call``, a
watcher of ``gateway.backendcalls``). Backend health is checked when the page is asked for, at most once
per ``HEALTH_CACHE_SECONDS``, each store within ``HEALTH_TIMEOUT``. Counts are per worker process: with
``--workers N`` the page shows the worker that answered (Prometheus has them all).

Who may look (``allowed``): a caller on this machine (loopback address, no forwarding header the gateway
does not trust), or anyone presenting one of ``status.access_keys`` by HTTP Basic authentication (access
key as the user name, its secret key as the password).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import hmac
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from backends.base import Backend
from gateway.checkconfig import describe
from gateway.config import Config
from gateway.failures import short_reason
from gateway.metrics import BREAKER_STATES, RequestRecord, walk
from gateway.version import version

#: Seconds a health answer is reused, and each store's check may take.
HEALTH_CACHE_SECONDS = 5.0
HEALTH_TIMEOUT = 2.0
#: Recent errors kept, and store call durations kept per backend (for the latency figures).
RECENT_ERRORS = 20
LATENCY_SAMPLES = 512


@dataclass
class _Minute:
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)


class StatusBoard:
    def __init__(self, config: Config, backend: Backend, *, clock: Callable[[], float] = time.time):
        self.config = config
        self.backend = backend
        self.clock = clock
        self.started = clock()
        self.minutes: collections.OrderedDict[int, _Minute] = collections.OrderedDict()
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_ERRORS)
        self.latency: dict[str, collections.deque[tuple[float, float]]] = {}
        self.secret_for: Callable[[str], str | None] = lambda _key: None
        self._health: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = asyncio.Lock()

    # -- feeding -----------------------------------------------------------------------------------
    def observe(self, record: RequestRecord) -> None:
        if record.internal:
            return
        now = self.clock()
        minute = self._minute(int(now // 60))
        minute.requests[record.operation] += 1
        if record.status >= 400 or record.error:
            minute.errors[record.operation] += 1
            self.recent.appendleft(
                {
                    "time": now,
                    "request_id": record.request_id,
                    "operation": record.operation,
                    "bucket": record.bucket,
                    "status": record.status,
                    "error": record.error,
                    "backend": record.backend,
                }
            )

    def _minute(self, index: int) -> _Minute:
        minute = self.minutes.get(index)
        if minute is not None:
            # This minute's counts exist: it is the newest, and the old ones went when it was made.
            return minute
        keep = self.config.status.window_minutes
        while self.minutes and next(iter(self.minutes)) <= index - keep:
            self.minutes.popitem(last=False)
        minute = self.minutes[index] = _Minute()  # not a new pair of Counters per request
        return minute

    def call(self, backend: str, operation: str) -> Callable[[BaseException | None, float], None]:
        """A ``gateway.backendcalls`` timer: the store's answer time, for its latency figures (asked once
        per store and operation; the window is the store's, whatever the operation)."""

        def done(_exc: BaseException | None, seconds: float) -> None:
            samples = self.latency.get(backend)
            if samples is None:  # not a new deque made (and dropped) per store call
                samples = self.latency[backend] = collections.deque(maxlen=LATENCY_SAMPLES)
            samples.append((self.clock(), seconds))

        return done

    # -- who may look ------------------------------------------------------------------------------
    def allowed(self, request: Request) -> bool:
        if self._basic_ok(request.headers.get("authorization", "")):
            return True
        headers = request.headers
        forwarded = "x-forwarded-for" in headers or "forwarded" in headers
        host = request.client.host if request.client else ""
        if forwarded and self.config.server.trust_forwarded and "x-forwarded-for" in headers:
            host, forwarded = headers["x-forwarded-for"].split(",")[0].strip(), False
        return not forwarded and _loopback(host)

    def _basic_ok(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic" or not self.config.status.access_keys:
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        secret = self.secret_for(user) if user in self.config.status.access_keys else None
        return secret is not None and hmac.compare_digest(secret.encode(), password.encode())

    # -- the snapshot --------------------------------------------------------------------------------
    async def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "version": version(),
            "generated": now,
            "uptime_seconds": round(now - self.started, 1),
            "backends": await self._backends(now),
            "operations": self._operations(),
            "window_minutes": self.config.status.window_minutes,
            "recent_errors": list(self.recent),
            "configuration": self._configuration(),
        }

    async def _backends(self, now: float) -> list[dict[str, Any]]:
        async with self._lock:
            if self._health is None or time.monotonic() - self._health[0] >= HEALTH_CACHE_SECONDS:
                self._health = (time.monotonic(), await self._check_all())
        rows = []
        for row in self._health[1]:
            samples = [d for t, d in self.latency.get(row["name"], ()) if now - t <= 300]
            rows.append(
                {
                    **row,
                    "calls_5m": len(samples),
                    "mean_ms": round(1000 * sum(samples) / len(samples), 1) if samples else None,
                    "max_ms": round(1000 * max(samples), 1) if samples else None,
                }
            )
        return rows

    async def _check_all(self) -> list[dict[str, Any]]:
        named = {getattr(node, "name", ""): node for node in walk(self.backend)}
        rows = []
        for name, settings in self.config.backends.items():
            node = named.get(name)
            row: dict[str, Any] = {"name": name, "kind": describe(settings)}
            row.update(await _health(node) if node is not None else {"healthy": None, "detail": "not built"})
            state = getattr(node, "state", None)
            row["breaker"] = state if isinstance(state, str) and state in BREAKER_STATES else None
            degraded = getattr(node, "degraded", None) if hasattr(node, "members") else None
            row["mirror_degraded_writes"] = degraded if isinstance(degraded, int) else None
            rows.append(row)
        return rows

    def _operations(self) -> list[dict[str, Any]]:
        totals: collections.Counter[str] = collections.Counter()
        errors: collections.Counter[str] = collections.Counter()
        last = int(self.clock() // 60)
        for index, minute in self.minutes.items():
            if index > last - self.config.status.window_minutes:
                totals.update(minute.requests)
                errors.update(minute.errors)
        return [{"operation": op, "requests": n, "errors": errors[op]} for op, n in totals.most_common()]

    def _configuration(self) -> dict[str, Any]:
        """Where things are and who may do what, by name: never a secret, never an environment value."""
        config = self.config
        srv = config.server
        return {
            "listen": f"{'https' if srv.certfile else 'http'}://{srv.host}:{srv.port}",
            "workers": srv.workers,
            "key_pairs": [kp.access_key for kp in config.credentials],
            "public_buckets": [pb.bucket for pb in config.public_buckets],
            "routes": [
                {
                    "bucket": r.bucket,
                    "backend": r.backend,
                    "remote_bucket": r.remote_bucket,
                    "prefix": r.prefix,
                }
                for r in config.effective_routes()
            ],
            "limits": {"max_connections": srv.max_connections, "max_in_flight": srv.max_in_flight},
            "log_format": config.logging.format,
        }


async def _health(node: Backend) -> dict[str, Any]:
    started = time.monotonic()
    try:
        await asyncio.wait_for(node.check(), HEALTH_TIMEOUT)
    except asyncio.TimeoutError:
        return {"healthy": False, "detail": f"no answer within {HEALTH_TIMEOUT:g}s", "check_ms": None}
    except Exception as exc:  # the page reports every failure, whatever its kind
        return {"healthy": False, "detail": short_reason(exc), "check_ms": None}
    return {"healthy": True, "detail": "", "check_ms": round((time.monotonic() - started) * 1000, 1)}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
