"""Endpoints beside the S3 API: liveness and readiness, on paths no bucket can have.

Bucket names cannot contain ``_``, so ``/_s3bridge/...`` never collides with a path-style bucket; on a
virtual-hosted bucket's host the same path is an object key, so it is answered only on non-bucket hosts.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backends.base import Backend
from gateway import addressing
from gateway.config import Config

PREFIX = "/_s3bridge/"
READY_TIMEOUT = 2.0
READY_CACHE_SECONDS = 2.0


class Extras:
    def __init__(self, config: Config, backend: Backend):
        self.config = config
        self.backend = backend
        self._ready: tuple[float, bool, str] | None = None

    def wrap(self, app):  # type: ignore[no-untyped-def]
        return app

    async def handle(self, request: Request) -> Response | None:
        path = request.url.path
        if not path.startswith(PREFIX):
            return None
        if addressing.bucket_from_host(request.headers.get("host", ""), self.config.server.domains):
            return None
        if request.method not in ("GET", "HEAD"):
            return None
        what = path[len(PREFIX) :]
        if what == "health/live":
            return JSONResponse({"status": "ok"})
        if what == "health/ready":
            ok, detail = await self.readiness()
            return JSONResponse(
                {"status": "ok" if ok else "unavailable", "detail": detail}, status_code=200 if ok else 503
            )
        return None

    async def readiness(self) -> tuple[bool, str]:
        now = time.monotonic()
        if self._ready is not None and now - self._ready[0] < READY_CACHE_SECONDS:
            return self._ready[1], self._ready[2]
        try:
            await asyncio.wait_for(self.backend.check(), READY_TIMEOUT)
            result = (True, "")
        except Exception as exc:  # any failure means not ready; say which
            result = (False, str(exc) or type(exc).__name__)
        self._ready = (now, *result)
        return result
