"""The ASGI application: one request in, one S3 answer out.

Per request, four steps, each a method of ``S3App``: resolve (addressing gives bucket and key, the
operation table in ``gateway.operations`` the operation), authenticate (SigV4/SigV2, header or
presigned), authorise (the caller's rights on the bucket, then headers asking for protection the gateway
does not give), dispatch (the operation's handler against the backend). Any refusal becomes S3's XML
error with the status AWS uses. Nothing here holds state another gateway
process would need, so ``--workers N`` and replicas behind a load balancer just work.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from backends import errors as be
from backends.base import Backend
from backends.served import served_by
from gateway import addressing, operations, runtime
from gateway.access import Access, Facts
from gateway.accesslog import ACCESS_LOGGER
from gateway.accesssettings import AccessSettings
from gateway.auth import AuthResult, RequestView, new_payload_decoder
from gateway.auth import authenticate as verify_signature
from gateway.bucketsettings import BucketSettings
from gateway.config import Config
from gateway.context import Ctx
from gateway.errors import S3Error, from_backend
from gateway.fastheaders import IndexedHeaders, raw_headers, request_with_indexed_headers, set_answer_headers
from gateway.identity import Identities
from gateway.logbuffer import flush_access_log
from gateway.ops.cors import actual_headers as cors_headers
from gateway.ops.encryption import in_sse_scope
from gateway.policy import Policy
from gateway.unsupported import refuse_unsupported
from gateway.xmlio import error_document

log = logging.getLogger("s3bridge")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Bytes the raw path may keep as they are when re-quoting it for the signature and the key.
_PATH_SAFE = b"!$&'()*+,;=:@/%-._~"


#: Request ids: a random per-process prefix and a counter, unique without a random draw per request
#: (``secrets.token_hex`` is a getrandom system call each time; ids identify, they are not secrets).
_RID_PREFIX = secrets.token_hex(4).upper()
_rid_counter = itertools.count(secrets.randbelow(1 << 31))


def new_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_counter) & 0xFFFFFFFF:08X}"


class S3App:
    """The gateway as an ASGI callable; ``backend`` is the assembled backend tree."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        *,
        extra: Callable[[Request], Awaitable[Response | None]] | None = None,
    ):
        self.config = config
        self.backend = backend
        self.policy = Policy(config)
        self.bucket_settings = BucketSettings(backend)
        self.identities = Identities(config)
        self.access = Access(
            self.policy, self.identities, AccessSettings(self.bucket_settings, self.identities), backend
        )
        self._extra = extra
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = request_with_indexed_headers(scope, receive)
        if not self._started:
            await self.startup()
        response = None
        if self._extra is not None:
            response = await self._extra(request)
        if response is None:
            response = await self.handle(request)
        try:
            await response(scope, receive, send)
        except ConnectionAbortedError as exc:
            # A store failed after the answer's headers went out: the connection is cut (the client
            # sees fewer bytes than Content-Length), which is all that can be said now.
            log.warning("response body cut off: %s", exc)

    async def startup(self) -> None:
        if not self._started:
            self._started = True
            log.info("worker %d: %s", os.getpid(), runtime.describe())
            await self.backend.start()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                flush_access_log(ACCESS_LOGGER)
                await self.backend.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _host(self, headers: Headers) -> str:
        if self.config.server.trust_forwarded and "x-forwarded-host" in headers:
            return headers["x-forwarded-host"].split(",")[0].strip()
        return headers.get("host", "")

    async def handle(self, request: Request) -> Response:
        """One S3 request: resolve → authenticate → authorise → dispatch; any refusal becomes S3's error."""
        ex = _Exchange.begin(request)
        try:
            call = self.resolve(request, ex)
            auth = self.authenticate(call, ex)
            facts = self.facts(call, auth)
            await self.authorise(call, auth, facts)
            response = await self.dispatch(call, auth, ex, facts)
        except Exception as exc:
            response = self.refusal(exc, ex)
        await self.add_cors(response, ex)
        return self.finish(response, ex)

    async def add_cors(self, response: Response, ex: _Exchange) -> None:
        """A request from a browser page (Origin) gets the Access-Control-* headers of the bucket's first
        matching CORS rule, on errors too, so the page's script can read the answer."""
        origin = ex.headers.get("origin")
        if not origin:
            return  # not from a browser page: no rule applies (``cors_headers`` would answer none)
        extra = await cors_headers(
            self.bucket_settings, self.config, ex.facts.get("bucket"), origin, ex.request.method
        )
        if extra:
            set_answer_headers(response, raw_headers(extra))

    def resolve(self, request: Request, ex: _Exchange) -> _Call:
        """Addressing (bucket, key) and the operation table: which S3 operation this request is."""
        headers = ex.headers
        host = self._host(headers)
        srv = self.config.server
        target = addressing.resolve(ex.raw_path, host, srv.domains, srv.path_prefix)
        query = addressing.query_params(ex.query_string)
        kind: operations.Target = "object" if target.key else ("bucket" if target.bucket else "service")
        route = operations.match(request.method, kind, query, headers)
        if route is None:
            raise S3Error("MethodNotAllowed" if request.method not in _KNOWN_METHODS else "NotImplemented")
        ex.operation = route.operation
        ex.facts.update(operation=route.operation, bucket=target.bucket)
        return _Call(request, headers, host, target, query, route)

    def authenticate(self, call: _Call, ex: _Exchange) -> AuthResult:
        """Whose request it is (SigV4/SigV2, header or presigned; or anonymous), its signature checked."""
        if call.route.unsigned:
            # A preflight or a form upload: whatever signature the URL or the form holds, the handler checks.
            return AuthResult(None, new_payload_decoder(call.headers, content_sha256=None), "anonymous")
        view = RequestView(
            method=call.request.method,
            raw_path=ex.raw_path,
            query_string=ex.query_string,
            headers=_joined(call.headers),
            host=call.host,
            virtual_host_bucket=call.target.bucket if call.target.virtual_host else None,
        )
        auth = verify_signature(
            view, self.policy.secret_for, dt.datetime.now(dt.timezone.utc),
            max_skew=dt.timedelta(seconds=self.config.server.max_skew_seconds),
        )  # fmt: skip
        ex.access_key = auth.access_key
        ex.facts["access_key"] = auth.access_key
        return auth

    def facts(self, call: _Call, auth: AuthResult) -> Facts:
        """What policy conditions may ask of this request: its source address, TLS, headers, query."""
        scope, headers = call.request.scope, call.headers
        source = scope["client"][0] if scope.get("client") else None
        secure = scope.get("scheme") == "https"
        if self.config.server.trust_forwarded:
            if "x-forwarded-for" in headers:
                source = headers["x-forwarded-for"].split(",")[0].strip()
            if "x-forwarded-proto" in headers:
                secure = headers["x-forwarded-proto"].split(",")[0].strip().lower() == "https"
        return Facts(source, secure, headers, call.query, auth.method)

    def _encrypting(self, call: _Call) -> bool:
        """The bucket's backend encrypts (the ``encrypt`` composite): SSE headers are served there."""
        bucket = call.target.bucket
        return bucket is not None and self.backend.capabilities_for(bucket).encryption

    async def authorise(self, call: _Call, auth: AuthResult, facts: Facts) -> None:
        """May this caller do this (gateway.access: configured rights, bucket policy, ACLs); then, headers
        asking for what the gateway does not give, or expecting another bucket owner, are refused (only
        now, so an unauthorised caller learns nothing from them)."""
        route, bucket, headers = call.route, call.target.bucket, call.headers
        if route.unsigned:
            return  # the handler authorises (see Route.unsigned)
        await self.access.decide(
            auth.access_key, route.operation, bucket, call.target.key, facts,
            right=route.right, public_read=route.public,
        )  # fmt: skip
        owner = source_owner = self.identities.default_owner.canonical_id
        if bucket is not None and "x-amz-expected-bucket-owner" in headers:
            owner = (await self.access.settings.owner(bucket)).canonical_id
        if "x-amz-source-expected-bucket-owner" in headers and "x-amz-copy-source" in headers:
            source_bucket = headers["x-amz-copy-source"].lstrip("/").split("/", 1)[0]
            source_owner = (await self.access.settings.owner(source_bucket)).canonical_id
        refuse_unsupported(headers, owner, source_owner, route.operation, encrypting=self._encrypting(call))

    async def dispatch(self, call: _Call, auth: AuthResult, ex: _Exchange, facts: Facts) -> Response:
        """The operation's handler, against the backend tree."""
        ex.ctx = Ctx(
            call.request, ex.rid, call.route.operation, call.target.bucket, call.target.key, call.query,
            call.headers, self.backend, self.config, auth, self.policy,
            self.bucket_settings, access_control=self.access, facts=facts,
        )  # fmt: skip
        try:
            if self._encrypting(call):
                return await in_sse_scope(call.route.handler, ex.ctx)
            return await call.route.handler(ex.ctx)
        finally:
            await ex.ctx.aclose_body()

    def refusal(self, exc: Exception, ex: _Exchange) -> Response:
        """The S3 error answer for what a step raised: S3 errors as they are, backend errors mapped."""
        if isinstance(exc, S3Error):
            return self.error_response(exc, ex.raw_path, ex.rid)
        if isinstance(exc, be.BackendError):
            # A store refusing us, or stored bytes that fail their integrity check, is an operator's
            # matter: one line with the reason (never a traceback; the client sees no detail).
            noted = exc.retryable or isinstance(exc, (be.AccessDenied, be.IntegrityError))
            level = logging.WARNING if noted else logging.DEBUG
            log.log(level, "request %s %s: %s", ex.rid, ex.operation, exc)
            ex.facts["backend_error"] = (
                exc.backend or served_by.get() or self.backend.name,
                type(exc).__name__,
            )
            return self.error_response(from_backend(exc), ex.raw_path, ex.rid)
        log.exception("request %s %s failed", ex.rid, ex.operation, exc_info=exc)
        return self.error_response(S3Error("InternalError"), ex.raw_path, ex.rid)

    def finish(self, response: Response, ex: _Exchange) -> Response:
        """The headers every answer carries, and the facts the access log and metrics read."""
        request, ctx, facts = ex.request, ex.ctx, ex.facts
        common: dict[bytes, bytes] = {}
        if _has_body(ex.headers) and not (ctx is not None and ctx.body_finished):
            # The body is unread (perhaps held back by Expect: 100-continue): the connection cannot carry
            # another request, so it closes after this answer instead of parsing the body as one.
            common[b"connection"] = b"close"
        # A composite names the member that served; a lone backend is the one that did.
        backend_name = served_by.get() or (self.backend.name if ctx is not None else None)
        if backend_name:
            common[b"x-s3bridge-backend"] = backend_name.encode("latin-1")
        facts.update(backend=backend_name, status=response.status_code)
        if response.status_code >= 300:
            facts["error"] = _error_code(response)
        rid = ex.rid.encode("latin-1")
        common[b"x-amz-request-id"] = rid
        common[b"x-amz-id-2"] = rid
        set_answer_headers(response, common, default=_DEFAULT_HEADERS)
        if log.isEnabledFor(logging.DEBUG):  # its arguments are not worked out for nothing
            log.debug(
                "%s %s %s -> %s in %.1f ms (key %s)",
                ex.rid, request.method, ex.operation, response.status_code,
                (time.monotonic() - ex.started) * 1000, ex.access_key,
            )  # fmt: skip
        return response

    def error_response(self, err: S3Error, resource: str, rid: str) -> Response:
        if err.code == "NotModified":
            return Response(status_code=304, headers=err.headers)
        body = error_document(err.code, err.message, resource, rid, err.extra)
        response = Response(body, status_code=err.status, headers=err.headers, media_type="application/xml")
        response.s3_error_code = err.code  # type: ignore[attr-defined]
        return response


@dataclass
class _Exchange:
    """What the steps of one request learn, for the answer's headers, the log and the access log."""

    request: Request
    #: The request's headers (``request.headers`` is a property that checks for them on every read).
    headers: Headers
    rid: str
    started: float
    raw_path: str
    query_string: str
    #: What the access log and metrics middleware read once the response is sent.
    facts: dict[str, Any]
    operation: str = "Unknown"
    access_key: str | None = None
    ctx: Ctx | None = None

    @classmethod
    def begin(cls, request: Request) -> _Exchange:
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        facts: dict[str, Any] = request.scope.setdefault("s3bridge", {})
        ex = cls(
            request=request,
            headers=request.headers,
            rid=new_request_id(),
            started=time.monotonic(),
            raw_path=_quoted_path(raw),
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            facts=facts,
        )
        facts.update(
            request_id=ex.rid, operation=ex.operation, access_key=None, bucket=None, backend=None, error=None
        )
        served_by.set(None)
        return ex


@dataclass(frozen=True)
class _Call:
    """A resolved request: where it goes and which operation it is."""

    request: Request
    headers: Headers
    host: str
    target: addressing.Target
    query: dict[str, str]
    route: operations.Route


@functools.lru_cache(maxsize=1024)
def _quoted_path(raw: bytes) -> str:
    """The request's path as the signature and the key read it (cached: the same paths come again)."""
    return quote_from_bytes(raw.split(b"?", 1)[0], safe=_PATH_SAFE)


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("0", "")


def _error_code(response: Response) -> str | None:
    code = getattr(response, "s3_error_code", None)
    return code if isinstance(code, str) else None


_KNOWN_METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}
#: Set on an answer that has none of its own.
_DEFAULT_HEADERS = {b"server": b"s3bridge"}


def _joined(headers: Headers) -> Mapping[str, str]:
    """Headers with repeated names joined by commas, as SigV4 canonicalises them (indexed once with the
    request's headers: ``IndexedHeaders.joined``)."""
    if not isinstance(headers, IndexedHeaders):
        headers = IndexedHeaders({"headers": headers.raw})
    return headers.joined
