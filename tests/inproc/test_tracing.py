"""OpenTelemetry tracing on the in-process app, read back from the SDK's in-memory exporter: one span per
S3 request named after its operation, with bucket, backend and status, and a child span per store call;
nothing at all when tracing is not configured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from tests.helpers.inproc import InProcessGateway  # noqa: E402
from tests.helpers.procs import REPO  # noqa: E402

pytestmark = pytest.mark.anyio
EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> Iterator[None]:
    """The process's SDK provider, as an embedding program or opentelemetry-instrument would set it."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    yield


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    EXPORTER.clear()


def telemetry() -> dict[str, Any]:
    return {"otlp_endpoint": "http://127.0.0.1:9/v1/traces"}


async def test_one_span_per_request_with_store_calls_inside(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path, telemetry=telemetry()) as gw:
        assert (await gw.request("PUT", "/traced")).status_code == 200
        assert (await gw.request("PUT", "/traced/k", body=b"abc")).status_code == 200
        assert (await gw.request("GET", "/traced/missing")).status_code == 404
        assert (await gw.request("GET", "/_s3bridge/health/live", signer=None)).status_code == 200
    spans = EXPORTER.get_finished_spans()
    requests = [s for s in spans if s.kind == trace.SpanKind.SERVER]
    assert [s.name for s in requests] == ["CreateBucket", "PutObject", "GetObject"]
    put = requests[1]
    assert put.attributes is not None
    assert put.attributes["s3.operation"] == "PutObject"
    assert put.attributes["s3.bucket"] == "traced"
    assert put.attributes["s3bridge.backend"] == "local"
    assert put.attributes["http.response.status_code"] == 200
    children = [s for s in spans if s.parent is not None and s.parent.span_id == put.context.span_id]
    # the store calls of the request, in order: the bucket settings access control reads
    # (policy, ownership; cached after the first), then the write itself
    names = [c.name for c in children]
    assert names[-1] == "local put_object"
    assert set(names[:-1]) <= {"local get_bucket_setting"}
    assert children[0].context.trace_id == put.context.trace_id
    assert children[0].kind == trace.SpanKind.CLIENT
    missing = requests[2]
    assert missing.attributes is not None and missing.attributes["http.response.status_code"] == 404
    assert missing.attributes["s3.error_code"] == "NoSuchKey"
    (miss,) = [s for s in spans if s.parent is not None and s.parent.span_id == missing.context.span_id]
    assert miss.attributes is not None and miss.attributes["error.type"] == "NoSuchKey"


async def test_off_unless_configured(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path) as gw:
        assert (await gw.request("PUT", "/untraced")).status_code == 200
    assert EXPORTER.get_finished_spans() == ()


async def test_the_standard_environment_turns_it_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    async with InProcessGateway.over(tmp_path) as gw:
        assert (await gw.request("PUT", "/env-traced")).status_code == 200
    assert [s.name for s in EXPORTER.get_finished_spans() if s.kind == trace.SpanKind.SERVER] == [
        "CreateBucket"
    ]


def test_without_the_packages_a_file_asking_for_it_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import ConfigError, validate
    from gateway.tracing import Tracing

    config = validate(
        {"backends": {"local": {"type": "fs", "root": "/nonexistent"}}, "telemetry": telemetry()}
    )
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if the otel extra were not installed
    with pytest.raises(ConfigError, match=r"telemetry.otlp_endpoint: tracing needs OpenTelemetry"):
        Tracing(config)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    env_only = validate({"backends": {"local": {"type": "fs", "root": "/nonexistent"}}})
    assert not Tracing(env_only).enabled  # a warning only: the variable may be meant for another program


def test_own_provider_exports_over_otlp(tmp_path: Path) -> None:
    """In a process with no provider set up, the gateway installs its own, exporting over OTLP/HTTP."""
    code = (
        "from opentelemetry import trace\n"
        "from gateway.config import validate\n"
        "from gateway.tracing import Tracing\n"
        "doc = {'backends': {'l': {'type': 'fs', 'root': '/x'}}, 'telemetry': {'otlp_endpoint': 'http://127.0.0.1:9/v1/traces', 'service_name': 'gw-test'}}\n"
        "assert Tracing(validate(doc)).enabled\n"
        "provider = trace.get_tracer_provider()\n"
        "(processor,) = provider._active_span_processor._span_processors\n"
        "print(type(provider).__name__, type(processor.span_exporter).__name__, provider.resource.attributes['service.name'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["TracerProvider", "OTLPSpanExporter", "gw-test"]
