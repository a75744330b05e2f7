"""What an operator sees beside the S3 API, wired around the app: the measuring middleware feeding the
metrics and the access log, and the endpoints for liveness, readiness and metrics.

The endpoints live under ``/_s3bridge/``. Bucket names cannot contain ``_``, so that path never names a
path-style bucket; on a virtual-hosted bucket's host the same path is an object key, so they are
answered only on hosts that carry no bucket. Health and metrics need no signature: probes and scrapers
hold no keys, and none of them reveals a bucket, a key or a setting. The status page does show bucket
names and settings (never a secret), so it answers only on this machine or to ``status.access_keys``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from backends.base import Backend
from gateway import addressing, backendcalls, statuspage
from gateway.accesslog import AccessLog, ASGIApp, Measure, Sink
from gateway.config import Config
from gateway.health import Readiness
from gateway.metrics import Metrics
from gateway.status import StatusBoard
from gateway.tracing import Tracing

PREFIX = "/_s3bridge/"
LIVE_PATH = PREFIX + "health/live"
READY_PATH = PREFIX + "health/ready"
METRICS_PATH = PREFIX + "metrics"
STATUS_PATH = PREFIX + "status"
STATUS_JSON_PATH = PREFIX + "status.json"

_OPERATIONS = {
    LIVE_PATH: "HealthLive",
    READY_PATH: "HealthReady",
    METRICS_PATH: "Metrics",
    STATUS_PATH: "StatusPage",
    STATUS_JSON_PATH: "StatusJson",
}


class Observability:
    """Built once per app from the configuration and the backend tree: ``wrap`` puts the middleware
    around the S3 app, ``handle`` answers the ``/_s3bridge/`` endpoints before the S3 app sees them."""

    def __init__(self, config: Config, backend: Backend):
        self.config = config
        self.backend = backend
        self.metrics = Metrics(backend)
        self.readiness = Readiness(backend)
        self.status = StatusBoard(config, backend)
        self.tracing = Tracing(config)
        watchers: list[backendcalls.Watcher] = [self.tracing.call] if self.tracing.enabled else []
        backendcalls.watch(backend, watchers, [self.metrics.backend_call, self.status.call])

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The S3 app inside the measuring middleware that feeds metrics and the access log, inside the
        request's trace span when tracing is on."""
        sinks: list[Sink] = [self.metrics.observe, self.status.observe]
        if self.config.logging.access_log:
            sinks.append(AccessLog())
        measured = Measure(
            app,
            sinks,
            on_start=self.metrics.in_flight.inc,
            on_end=self.metrics.in_flight.dec,
            trust_forwarded=self.config.server.trust_forwarded,
        )
        return self.tracing.wrap(measured)

    def _host(self, request: Request) -> str:
        headers = request.headers
        if self.config.server.trust_forwarded and "x-forwarded-host" in headers:
            return headers["x-forwarded-host"].split(",")[0].strip()
        return headers.get("host", "")

    async def handle(self, request: Request) -> Response | None:
        """The answer for a ``/_s3bridge/`` endpoint, or None to let the S3 app answer."""
        path = request.scope["path"]  # not request.url: that builds and parses a whole URL per request
        operation = _OPERATIONS.get(path)
        if operation is None or request.method not in ("GET", "HEAD"):
            return None
        if addressing.bucket_from_host(self._host(request), self.config.server.domains):
            return None
        facts: dict[str, Any] = request.scope.setdefault("s3bridge", {})
        facts.update(operation=operation, internal=True)
        if path == LIVE_PATH:
            return JSONResponse({"status": "ok"}, headers=_NO_STORE)
        if path == READY_PATH:
            ok, detail = await self.readiness.check()
            body = {"status": "ok" if ok else "unavailable", "detail": detail}
            return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)
        if path in (STATUS_PATH, STATUS_JSON_PATH):
            return await self._status(request, json_form=path == STATUS_JSON_PATH)
        payload, content_type = self.metrics.exposition()
        return Response(payload, media_type=content_type, headers=_NO_STORE)

    async def _status(self, request: Request, *, json_form: bool) -> Response:
        if not self.status.allowed(request):
            return Response(
                "The status page answers on this machine, or to a key pair of status.access_keys.\n",
                status_code=401,
                media_type="text/plain",
                headers={**_NO_STORE, "WWW-Authenticate": 'Basic realm="s3bridge status", charset="UTF-8"'},
            )
        snapshot = await self.status.snapshot()
        if json_form:
            return JSONResponse(snapshot, headers=_NO_STORE)
        return HTMLResponse(statuspage.render(snapshot), headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-store"}
