"""The pure parts behind the operations features: a failure in one short line, the JSON log record, and
what a reload applies and what waits for a restart."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from backends import errors as be
from gateway.config import validate
from gateway.failures import MAX_REASON, short_reason
from gateway.logformat import ACCESS_FIELDS, JsonFormatter
from gateway.reload import not_applied


def wrapped_refusal() -> be.BackendUnavailable:
    """As the s3 backend raises it: urllib3's long text in the detail, the OS error in the chain."""
    text = (
        "MaxRetryError: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: / "
        "(Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=1): Failed to establish a "
        'new connection: [Errno 111] Connection refused"))'
    )
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as os_error:
            raise be.BackendUnavailable(detail=text, backend="dead") from os_error
    except be.BackendUnavailable as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (wrapped_refusal(), "BackendUnavailable: Connection refused"),
        (
            be.BackendUnavailable(detail="OSS said: [Errno -2] Name or service not known (x)"),
            "BackendUnavailable: Name or service not known",
        ),
        (be.BackendUnavailable(detail="read timed out after 5 s"), "BackendUnavailable: timed out"),
        (be.AccessDenied(detail="line one\n  line two"), "AccessDenied: line one line two"),
        (RuntimeError(), "RuntimeError"),
    ],
    ids=["chained-os-error", "errno-in-text", "timeout", "multi-line", "bare"],
)
def test_short_reason(exc: BaseException, expected: str) -> None:
    assert short_reason(exc) == expected


def test_short_reason_is_cut() -> None:
    reason = short_reason(be.InternalBackendError(detail="x" * 500))
    assert len(reason) == MAX_REASON and reason.endswith("…")


def test_json_formatter_plain_access_and_exception() -> None:
    formatter = JsonFormatter()
    plain = logging.LogRecord("s3bridge", logging.WARNING, __file__, 1, "store %s down", ("dead",), None)
    assert json.loads(formatter.format(plain)) == {
        "time": json.loads(formatter.format(plain))["time"],
        "level": "warning",
        "logger": "s3bridge",
        "message": "store dead down",
    }
    access = logging.LogRecord("s3bridge.access", logging.INFO, __file__, 1, "{}", (), None)
    setattr(access, ACCESS_FIELDS, {"time": "ignored", "request_id": "R1", "status": 200})
    out = json.loads(formatter.format(access))
    assert out["request_id"] == "R1" and out["status"] == 200 and "message" not in out
    assert out["time"] != "ignored" and out["logger"] == "s3bridge.access"
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("s3bridge", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = formatter.format(failed)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc"]


def test_not_applied_names_what_needs_a_restart() -> None:
    base = {
        "credentials": [{"access_key": "a", "secret_key": "s"}],
        "backends": {"local": {"type": "fs", "root": "/data"}},
    }
    old = validate(base)
    new = validate(
        {
            **base,
            "credentials": [{"access_key": "b", "secret_key": "t"}],
            "public_buckets": [{"bucket": "pub"}],
            "server": {"port": 9999},
            "routes": [{"bucket": "*", "backend": "local", "prefix": "p/"}],
        }
    )
    assert not_applied(old, new) == ["server.port", "routes"]
    assert not_applied(old, old) == []


def test_status_access_keys_must_be_key_pairs() -> None:
    from gateway.config import ConfigError

    doc = {
        "credentials": [{"access_key": "a", "secret_key": "s"}],
        "backends": {"local": {"type": "fs", "root": "/data"}},
        "status": {"access_keys": ["a", "ghost"]},
    }
    with pytest.raises(ConfigError) as caught:
        validate(doc)
    assert caught.value.problems == ["status.access_keys[1]: 'ghost' is not an access key of credentials"]


def test_tracing_asked_for_without_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import ConfigError
    from gateway.tracing import check_available

    base = {"backends": {"local": {"type": "fs", "root": "/data"}}}
    asked = validate({**base, "telemetry": {"otlp_endpoint": "http://127.0.0.1:4318/v1/traces"}})
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigError, match=r"^telemetry.otlp_endpoint: tracing needs OpenTelemetry"):
        check_available(asked)
    check_available(validate(base))  # not asked for: nothing to say
