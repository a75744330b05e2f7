"""OBS backend settings: env fallbacks the user's document names, validation, secrets kept out of sight."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest
from pydantic import ValidationError

from backends import errors as be
from backends.obs.backend import ObsBackend, build, make_client
from backends.obs.errors import result_error
from backends.obs.settings import Settings


def test_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBS_SERVER", "https://obs.cn-east-3.myhuaweicloud.com")
    monkeypatch.setenv("OBS_AK", "env-ak")
    monkeypatch.setenv("OBS_SK", "env-sk-secret")
    monkeypatch.setenv("OBS_BUCKET", "env-bucket")
    s = Settings(type="obs")
    assert (s.server, s.access_key, s.secret_key, s.bucket) == (
        "https://obs.cn-east-3.myhuaweicloud.com",
        "env-ak",
        "env-sk-secret",
        "env-bucket",
    )
    assert (s.signature, s.part_size, s.path_style) == ("obs", 8 * 1024 * 1024, False)
    explicit = Settings(type="obs", server="http://other", access_key="a", secret_key="b")
    assert (explicit.server, explicit.access_key) == ("http://other", "a")


def test_missing_values_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OBS_SERVER", "OBS_AK", "OBS_SK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as caught:
        Settings(type="obs", server="https://x")
    assert "access_key (OBS_AK)" in str(caught.value) and "secret_key (OBS_SK)" in str(caught.value)
    with pytest.raises(ValidationError, match="region"):
        Settings(type="obs", server="https://x", access_key="a", secret_key="b", signature="v4")
    with pytest.raises(ValidationError):
        Settings(type="obs", server="https://x", access_key="a", secret_key="b", part_size=1024)
    with pytest.raises(ValidationError):
        Settings(type="obs", server="https://x", access_key="a", secret_key="b", signature="v3")  # type: ignore[arg-type]


def test_secrets_not_in_repr() -> None:
    s = Settings(
        type="obs",
        server="https://x",
        access_key="AK-VISIBLE?",
        secret_key="SK-HIDDEN",
        security_token="TOKEN-HIDDEN",
    )
    backend = build(s, name="obs1", lookup=lambda n: ObsBackend(s, name=n))
    for text in (repr(s), str(s), repr(backend)):
        assert "SK-HIDDEN" not in text and "TOKEN-HIDDEN" not in text


@pytest.mark.parametrize(
    ("server", "path_style"), [("http://127.0.0.1:9000", False), ("https://obs.example.com", True)]
)
def test_configured_signature_kept(server: str, path_style: bool) -> None:
    """The SDK turns ``obs`` into ``v2`` for path-style addressing (always for IPs); the setting wins."""
    client = make_client(
        Settings(type="obs", server=server, access_key="a", secret_key="b", path_style=path_style)
    )
    try:
        assert client.signature == "obs"
        assert client.ha.auth_prefix() == "OBS"
        assert not client.is_signature_negotiation and client.long_conn_mode
    finally:
        client.close()


@pytest.mark.parametrize("signature", ["v4", "obs", "v2"])
def test_request_date_header(signature: str) -> None:
    """In v4 mode a request is dated with an ISO 8601 basic ``x-amz-date``, signed, and no ``Date``
    (RGW reads no other form); the other schemes keep the ``Date`` header they sign."""
    client = make_client(
        Settings(
            type="obs",
            server="http://127.0.0.1:9000",
            access_key="a",
            secret_key="b",
            signature=signature,
            region="us-east-1",
        )
    )
    try:
        before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        headers = client._add_auth_headers({"Host": "127.0.0.1:9000"}, "GET", "b", "k", {})
        after = dt.datetime.now(dt.timezone.utc)
    finally:
        client.close()
    if signature == "v4":
        assert "Date" not in headers
        stamp = dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        assert before <= stamp <= after
        signed = headers["Authorization"].split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
        assert "x-amz-date" in signed
        assert f"/{stamp:%Y%m%d}/us-east-1/s3/aws4_request" in headers["Authorization"]
    else:
        assert "x-amz-date" not in headers and "x-obs-date" not in headers
        email.utils.parsedate_to_datetime(headers["Date"])


class _Result:
    def __init__(self, status: int, code: str | None = None, message: str | None = None):
        self.status, self.errorCode, self.errorMessage = status, code, message
        self.requestId, self.reason = "RID", None


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "NoSuchKey", be.NoSuchKey),
        (404, "NoSuchBucket", be.NoSuchBucket),
        (404, None, be.NoSuchUpload),
        (409, "BucketNotEmpty", be.BucketNotEmpty),
        (403, "SignatureDoesNotMatch", be.AccessDenied),
        (403, "InvalidAccessKeyId", be.AccessDenied),
        (403, None, be.AccessDenied),
        (503, "SlowDown", be.SlowDown),
        (503, None, be.SlowDown),
        (500, "InternalError", be.BackendUnavailable),
        (502, None, be.BackendUnavailable),
        (416, None, be.InvalidRange),
        (412, None, be.PreconditionFailed),
        (400, "EntityTooSmall", be.EntityTooSmall),
        (400, "InvalidPartOrder", be.InvalidPartOrder),
        (400, "SomethingNew", be.InvalidArgument),
    ],
)
def test_result_mapping(status: int, code: str | None, expected: type[be.BackendError]) -> None:
    error = result_error(_Result(status, code, "the store's words"), "obs1", not_found=be.NoSuchUpload)
    assert type(error) is expected
    assert error is not None and error.backend == "obs1" and "RID" in (error.detail or "")
    if expected is be.AccessDenied:
        assert "obs1" in (error.detail or "")
    assert result_error(_Result(200), "obs1") is None
