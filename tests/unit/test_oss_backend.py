"""OSS backend pieces the contract suite does not reach: settings, secrets, error mapping, failures.

Error mapping is checked with oss2's own exception types (built from a status and an error document as
oss2 builds them); credential and connection failures run against the real emulator process or a
closed port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from oss2 import exceptions as oe

from backends import errors as be
from backends.base import ObjectMeta
from backends.oss.backend import build
from backends.oss.settings import Settings
from backends.oss.support import headers_to_meta, meta_to_headers, translate
from tests.helpers.bodies import ChunkedBody
from tests.helpers.emulated import OSS_SK as SK
from tests.helpers.emulated import oss_emulator, oss_settings
from tests.helpers.emulated import started_oss as started
from tests.helpers.procs import ServerProcess, free_port

pytestmark = pytest.mark.anyio

_ENV_NAMES = [
    f"{family}{name}"
    for family in ("OSS_", "ALICLOUD_OSS_")
    for name in ("ENDPOINT", "ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "REGION", "BUCKET_NAME")
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = oss_emulator(tmp_path_factory.mktemp("oss-unit")).start()
    try:
        yield server
    finally:
        server.stop()


# -- settings ------------------------------------------------------------------------------------------
def test_settings_from_alicloud_env(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ALICLOUD_OSS_ACCESS_KEY_ID", "ak-env")
    clean_env.setenv("ALICLOUD_OSS_ACCESS_KEY_SECRET", "sk-env-secret")
    clean_env.setenv("ALICLOUD_OSS_ENDPOINT", "https://oss-us-east-1.aliyuncs.com")
    clean_env.setenv("ALICLOUD_OSS_REGION", "us-east-1")
    clean_env.setenv("ALICLOUD_OSS_BUCKET_NAME", "translide-backup")
    s = Settings.model_validate({"type": "oss"})
    assert (s.access_key_id, s.access_key_secret, s.region, s.bucket) == (
        "ak-env",
        "sk-env-secret",
        "us-east-1",
        "translide-backup",
    )
    assert s.endpoint == "https://oss-us-east-1.aliyuncs.com"


def test_oss_env_wins_over_alicloud_and_config_wins_over_env(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OSS_ENDPOINT", "oss-cn-shanghai.aliyuncs.com")
    clean_env.setenv("ALICLOUD_OSS_ENDPOINT", "https://oss-us-east-1.aliyuncs.com")
    clean_env.setenv("OSS_ACCESS_KEY_ID", "ak")
    clean_env.setenv("OSS_ACCESS_KEY_SECRET", "sk")
    s = Settings.model_validate({"type": "oss"})
    assert s.endpoint == "https://oss-cn-shanghai.aliyuncs.com"
    assert s.region == "cn-shanghai"  # derived from the endpoint
    s = Settings.model_validate({"type": "oss", "access_key_id": "from-config"})
    assert s.access_key_id == "from-config"


def test_settings_errors(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="access_key_id"):
        Settings.model_validate({"type": "oss", "endpoint": "https://oss-cn-hangzhou.aliyuncs.com"})
    with pytest.raises(ValueError, match="region"):
        Settings.model_validate(
            {
                "type": "oss",
                "endpoint": "https://oss.example.com",
                "access_key_id": "a",
                "access_key_secret": "b",
            }
        )
    v1 = Settings.model_validate(
        {
            "type": "oss",
            "endpoint": "https://oss.example.com",
            "access_key_id": "a",
            "access_key_secret": "b",
            "auth_version": "v1",
        }
    )
    assert v1.region is None


def test_secrets_stay_out_of_repr(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings.model_validate(
        {
            "type": "oss",
            "endpoint": "https://oss-cn-hangzhou.aliyuncs.com",
            "access_key_id": "visible-id-not-secret",
            "access_key_secret": "TOP-SECRET-VALUE",
            "security_token": "TOKEN-VALUE",
        }
    )
    backend = build(s, name="o", lookup=lambda n: (_ for _ in ()).throw(KeyError(n)))
    for text in (repr(s), str(s), repr(backend)):
        assert "TOP-SECRET-VALUE" not in text and "TOKEN-VALUE" not in text


# -- translation ---------------------------------------------------------------------------------------
def _oss_error(status: int, code: str, **details: str) -> oe.OssError:
    return oe.make_exception(_FakeResp(status, code, details))


class _FakeResp:
    """The two attributes oss2's make_exception reads, carrying a real OSS error document."""

    def __init__(self, status: int, code: str, details: dict[str, str]):
        self.status = status
        self.headers = {"x-oss-request-id": "RID"}
        extra = "".join(f"<{k}>{v}</{k}>" for k, v in details.items())
        self._body = f"<Error><Code>{code}</Code><Message>m</Message>{extra}</Error>".encode()

    def read(self, amt: int | None = None) -> bytes:
        body, self._body = self._body, b""
        return body


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "NoSuchKey", be.NoSuchKey),
        (404, "NoSuchBucket", be.NoSuchBucket),
        (404, "NoSuchUpload", be.NoSuchUpload),
        (409, "BucketAlreadyExists", be.BucketAlreadyExists),
        (409, "BucketNotEmpty", be.BucketNotEmpty),
        (400, "InvalidPart", be.InvalidPart),
        (400, "InvalidPartOrder", be.InvalidPartOrder),
        (400, "EntityTooSmall", be.EntityTooSmall),
        (412, "PreconditionFailed", be.PreconditionFailed),
        (403, "AccessDenied", be.AccessDenied),
        (403, "SignatureDoesNotMatch", be.AccessDenied),
        (403, "InvalidAccessKeyId", be.AccessDenied),
        (503, "ServiceUnavailable", be.BackendUnavailable),
        (500, "InternalError", be.BackendUnavailable),
        (503, "SlowDown", be.SlowDown),
        (429, "QpsLimitExceeded", be.SlowDown),
        (501, "NotImplemented", be.NotImplementedByBackend),
        (400, "InvalidObjectName", be.InvalidKey),
        (418, "Teapot", be.InternalBackendError),
    ],
)
def test_error_codes(status: int, code: str, expected: type[be.BackendError]) -> None:
    err = translate(_oss_error(status, code), "oss-x")
    assert type(err) is expected
    assert isinstance(err, be.BackendError) and err.backend == "oss-x"
    assert code in (err.detail or "") and "RID" in (err.detail or "")


def test_invalid_range_keeps_size() -> None:
    err = translate(_oss_error(416, "InvalidRange", ActualObjectSize="1234"), "o")
    assert isinstance(err, be.InvalidRange) and err.size == 1234


def test_bodyless_404_means_what_the_call_says() -> None:
    resp = _FakeResp(404, "", {})
    resp._body = b""
    err = translate(oe.make_exception(resp), "o", missing=be.NoSuchBucket)
    assert isinstance(err, be.NoSuchBucket)


def test_metadata_headers_roundtrip() -> None:
    meta = ObjectMeta(
        content_type="text/plain",
        cache_control="no-cache",
        user={"Color": "blue"},
        storage_class="STANDARD_IA",
    )
    headers = meta_to_headers(meta)
    assert headers["x-oss-meta-color"] == "blue" and headers["x-oss-storage-class"] == "IA"
    back = headers_to_meta(headers)
    assert (back.content_type, back.cache_control, back.user, back.storage_class) == (
        "text/plain",
        "no-cache",
        {"color": "blue"},
        "STANDARD_IA",
    )
    with pytest.raises(be.InvalidArgument):
        meta_to_headers(ObjectMeta(storage_class="REDUCED_REDUNDANCY_X"))


# -- against processes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("auth_version", ["v1", "v4"])
async def test_wrong_secret_is_access_denied_naming_backend(
    emulator: ServerProcess, auth_version: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = oss_settings(emulator, auth_version, access_key_secret="definitely-wrong-secret")
    async for backend in started(settings, name="oss-primary"):
        with pytest.raises(be.AccessDenied) as caught:
            await backend.list_buckets()
        assert "oss-primary" in (caught.value.detail or "")
        assert caught.value.backend == "oss-primary"
        with pytest.raises(be.AccessDenied):
            await backend.put_object("whatever", "k", ChunkedBody(b"data"), ObjectMeta())
    assert "definitely-wrong-secret" not in caplog.text
    assert SK not in caplog.text


async def test_security_token_sent(tmp_path_factory: pytest.TempPathFactory) -> None:
    with oss_emulator(tmp_path_factory.mktemp("sts"), security_token="sts-token-1") as server:
        async for backend in started(oss_settings(server, "v4", security_token="sts-token-1")):
            await backend.create_bucket("sts-bucket")
            assert [b.name for b in await backend.list_buckets()] == ["sts-bucket"]
        async for backend in started(oss_settings(server, "v4", security_token="other-token")):
            with pytest.raises(be.AccessDenied):
                await backend.list_buckets()


async def test_unreachable_store_is_unavailable() -> None:
    port = free_port()  # nothing listens there
    server = ServerProcess(["true"], port)
    async for backend in started(oss_settings(server, "v4", connect_timeout=2)):
        with pytest.raises(be.BackendUnavailable) as caught:
            await backend.head_object("bucket", "key")
        assert caught.value.retryable


async def test_readiness_check_uses_configured_bucket(emulator: ServerProcess) -> None:
    async for backend in started(oss_settings(emulator, "v4", bucket="ready-bucket")):
        with pytest.raises(be.NoSuchBucket):
            await backend.check()
        await backend.create_bucket("ready-bucket")
        await backend.check()
        with pytest.raises(be.BucketAlreadyOwnedByYou):
            await backend.create_bucket("ready-bucket")
        with pytest.raises(be.InvalidArgument):
            await backend.create_bucket("elsewhere", region="eu-central-1")
        await backend.delete_bucket("ready-bucket")
