"""Options of a ``type: obs`` backend. Imports no SDK: a configuration validates without esdk-obs-python."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backends.base import MIN_PART_SIZE


def _env(name: str) -> Callable[[], str]:
    return lambda: os.environ.get(name, "")


class Settings(BaseModel):
    """Connection to one OBS endpoint; ``OBS_SERVER``/``OBS_AK``/``OBS_SK``/``OBS_BUCKET`` fill the gaps."""

    model_config = ConfigDict(extra="forbid", title="obs backend")

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
    #: A bucket on this store holding the bucket settings the gateway evaluates itself (ACLs, policies,
    #: CORS, default encryption) and the object records the store does not keep (stored checksums,
    #: part boundaries, completed uploads); created on first use and hidden from ListBuckets. Unset:
    #: the settings calls answer NotImplemented and no checksum is stored.
    meta_bucket: str | None = None
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
