"""Huawei OBS through esdk-obs-python (``type: obs``).

Every contract operation maps onto one native SDK call; multipart state lives in OBS itself, so any
gateway process (or a restarted one) continues an upload by its id. Bodies cross the thread boundary
through ``backends.bridge`` a chunk at a time in both directions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

from obs import ObsClient, convertor
from pydantic import BaseModel, ConfigDict, Field, model_validator

from backends.base import MIN_PART_SIZE, Backend
from backends.bridge import DEFAULT_THREADS, BlockingPool, sized
from backends.obs.ops import ObsOperations


def _env(name: str) -> Callable[[], str]:
    return lambda: os.environ.get(name, "")


class Settings(BaseModel):
    """Connection to one OBS endpoint; ``OBS_SERVER``/``OBS_AK``/``OBS_SK``/``OBS_BUCKET`` fill the gaps."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["obs"]
    server: str = Field(
        default_factory=_env("OBS_SERVER"),
        description="endpoint, e.g. https://obs.cn-east-3.myhuaweicloud.com",
    )
    access_key: str = Field(default_factory=_env("OBS_AK"), repr=False)
    secret_key: str = Field(default_factory=_env("OBS_SK"), repr=False)
    security_token: str | None = Field(default=None, repr=False)
    region: str | None = None
    signature: Literal["obs", "v4", "v2"] = "obs"
    ca_bundle: str | None = None
    ssl_verify: bool = True
    #: seconds for connecting and for each socket read or write (the SDK has one timeout for both)
    timeout: float = 60.0
    max_workers: int = Field(default=16, ge=1, le=256)
    part_size: int = Field(default=8 * 1024 * 1024, ge=MIN_PART_SIZE, le=5 * 1024**3)
    path_style: bool = False
    #: the SDK's own retries; 0 leaves retrying to the Retry composite (a streamed body cannot be replayed)
    max_retry_count: int = Field(default=0, ge=0, le=10)
    #: a bucket the readiness check looks at instead of listing every bucket (``OBS_BUCKET``)
    bucket: str | None = Field(default_factory=lambda: os.environ.get("OBS_BUCKET") or None)

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        missing = [
            f"{field} ({env})"
            for field, env in (("server", "OBS_SERVER"), ("access_key", "OBS_AK"), ("secret_key", "OBS_SK"))
            if not getattr(self, field)
        ]
        if missing:
            raise ValueError("obs backend needs " + ", ".join(missing))
        if self.signature == "v4" and not self.region:
            raise ValueError("obs backend with signature v4 needs a region")
        return self


class _RawHeadersClient(ObsClient):  # type: ignore[misc]
    """ObsClient that keeps response header names as sent.

    The SDK strips ``x-amz-meta-``/``x-obs-meta-`` (and ``x-amz-``/``x-obs-``) from the header list it
    returns, so user metadata named like a system header could not be told apart; ``obs_wire`` reads
    the raw names instead.
    """

    def _rename_response_headers(self, headers: dict[str, str]) -> list[tuple[str, str]]:
        return list(headers.items())


def _verify_setting(settings: Settings) -> str | bool:
    if not settings.ssl_verify:
        return False
    if settings.ca_bundle:
        return settings.ca_bundle
    import certifi  # the SDK loads no default CA store: without a bundle nothing would verify

    return str(certifi.where())


def make_client(settings: Settings) -> ObsClient:
    """An ObsClient configured as the settings say, nothing negotiated or guessed."""
    client = _RawHeadersClient(
        access_key_id=settings.access_key,
        secret_access_key=settings.secret_key,
        security_token=settings.security_token,
        server=settings.server,
        signature=settings.signature,
        region=settings.region or "region",
        path_style=settings.path_style,
        ssl_verify=_verify_setting(settings),
        timeout=settings.timeout,
        max_retry_count=settings.max_retry_count,
        long_conn_mode=True,
        is_signature_negotiation=False,
    )
    if client.signature != settings.signature:
        # The SDK silently downgrades "obs" to "v2" whenever it addresses path-style (always for an IP
        # endpoint); the operator asked for a scheme, so sign with that one.
        client.signature = settings.signature
        client.ha = convertor.Adapter(settings.signature)
        client.convertor = convertor.Convertor(settings.signature, client.ha)
    context = getattr(client, "context", None)
    if context is not None and settings.ssl_verify:
        context.check_hostname = True  # the SDK turns hostname checking off even when verifying
    return client


class ObsBackend(ObsOperations, Backend):
    def __init__(self, settings: Settings, *, name: str):
        self.name = name
        self.settings = settings
        self.signature = settings.signature
        self.part_size = settings.part_size
        self.region = settings.region
        self.client: Any = None
        self.pool = BlockingPool(settings.max_workers, name=f"obs-{name}")

    def __repr__(self) -> str:
        return (
            f"ObsBackend(name={self.name!r}, server={self.settings.server!r}, signature={self.signature!r})"
        )

    async def start(self) -> None:
        if self.client is None:
            self.client = make_client(self.settings)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await self.pool.run(client.close)
        self.pool.shutdown()

    async def check(self) -> None:
        if self.settings.bucket:
            await self.head_bucket(self.settings.bucket)
        else:
            await self.list_buckets()


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    return ObsBackend(sized(settings, io_threads), name=name)
