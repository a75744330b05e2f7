"""Optional OpenTelemetry tracing (``pip install s3bridge[otel]``): one span per S3 request, a child span
per store call.

Off unless configured: ``telemetry.otlp_endpoint`` in the file, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` in the environment (the
exporter then reads the other ``OTEL_*`` variables itself: headers, timeout, protocol). A process that
already has an SDK tracer provider (an embedding program, ``opentelemetry-instrument``) keeps it: the
gateway's spans go wherever that provider sends them. Without the packages, a file that asks for tracing
is a configuration error; the environment alone only earns a warning (it may be meant for another
program).

The request span is named after the S3 operation once the app has resolved it, and carries
``s3.operation``, ``s3.bucket``, ``s3bridge.backend`` (the store that served) and the HTTP status;
health, metrics and status endpoints under ``/_s3bridge/`` are not traced. A store call's span
(``gateway.backendcalls`` watcher) carries the backend and the contract operation, and its error type.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from backends import errors as be
from gateway.config import Config, ConfigError

log = logging.getLogger("s3bridge")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
INSTALL_HINT = "pip install 's3bridge[otel]'"
_INTERNAL = "/_s3bridge/"

Scope = Any
Receive = Any
Send = Any


def requested(config: Config) -> tuple[bool, str]:
    """(tracing asked for, by what): the file first, then the standard environment."""
    if config.telemetry.otlp_endpoint:
        return True, "telemetry.otlp_endpoint"
    for name in ENDPOINT_VARIABLES:
        if os.environ.get(name):
            return True, name
    return False, ""


def check_available(config: Config) -> None:
    """ConfigError when the file asks for tracing and OpenTelemetry is not installed: said by
    ``serve`` before any worker starts, and by ``check-config``."""
    if config.telemetry.otlp_endpoint:
        try:
            import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
            import opentelemetry.sdk.trace  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"telemetry.otlp_endpoint: tracing needs OpenTelemetry ({INSTALL_HINT})"
            ) from None


def _tracer(config: Config, source: str) -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):  # nobody set one up: ours, exporting over OTLP/HTTP
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = config.telemetry.otlp_endpoint
        exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": config.telemetry.service_name}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        log.info("tracing: spans exported over OTLP (%s)", source)
    return trace.get_tracer("s3bridge")


class Tracing:
    """The request middleware and the store-call watcher, or nothing when tracing is off."""

    def __init__(self, config: Config):
        self.tracer: Any = None
        wanted, source = requested(config)
        if not wanted:
            return
        try:
            self.tracer = _tracer(config, source)
        except ImportError as exc:
            if source == "telemetry.otlp_endpoint":
                raise ConfigError(
                    f"telemetry.otlp_endpoint: tracing needs OpenTelemetry ({INSTALL_HINT})"
                ) from None
            log.warning(
                "tracing: %s is set but OpenTelemetry is not installed (%s): %s", source, INSTALL_HINT, exc
            )

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    def wrap(self, app: Any) -> Any:
        return _Traced(app, self.tracer) if self.enabled else app

    @contextlib.contextmanager
    def call(self, backend: str, operation: str) -> Iterator[None]:
        """A ``gateway.backendcalls`` watcher: a child span of the request's, per store call."""
        from opentelemetry.trace import SpanKind, Status, StatusCode

        attributes = {"s3bridge.backend": backend, "s3bridge.backend_operation": operation}
        with self.tracer.start_as_current_span(
            f"{backend} {operation}", kind=SpanKind.CLIENT, attributes=attributes, record_exception=False
        ) as span:
            try:
                yield
            except be.BackendError as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise


class _Traced:
    """ASGI middleware: the request's span around the app; named and labelled from what the app learnt."""

    def __init__(self, app: Any, tracer: Any):
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_INTERNAL):
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        status = {"code": 0}

        async def watching_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        with self.tracer.start_as_current_span(
            "S3 request", kind=SpanKind.SERVER, attributes={"http.request.method": scope.get("method", "")}
        ) as span:
            try:
                await self.app(scope, receive, watching_send)
            finally:
                facts = scope.get("s3bridge") or {}
                operation = str(facts.get("operation") or "Unknown")
                span.update_name(operation)
                span.set_attribute("s3.operation", operation)
                for attribute, fact in (("s3.bucket", "bucket"), ("s3bridge.backend", "backend")):
                    if facts.get(fact):
                        span.set_attribute(attribute, str(facts[fact]))
                if facts.get("request_id"):
                    span.set_attribute("s3bridge.request_id", str(facts["request_id"]))
                span.set_attribute("http.response.status_code", status["code"])
                if status["code"] >= 500 or status["code"] == 0:
                    span.set_status(Status(StatusCode.ERROR))
                if facts.get("error"):
                    span.set_attribute("s3.error_code", str(facts["error"]))
