"""Options of a ``type: oss`` backend. Imports no SDK: a configuration validates without oss2."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backends.base import MIN_PART_SIZE

MiB = 1024 * 1024

_ENV = {
    "endpoint": ("OSS_ENDPOINT", "ALICLOUD_OSS_ENDPOINT"),
    "region": ("OSS_REGION", "ALICLOUD_OSS_REGION"),
    "access_key_id": ("OSS_ACCESS_KEY_ID", "ALICLOUD_OSS_ACCESS_KEY_ID"),
    "access_key_secret": ("OSS_ACCESS_KEY_SECRET", "ALICLOUD_OSS_ACCESS_KEY_SECRET"),
    "bucket": ("OSS_BUCKET_NAME", "ALICLOUD_OSS_BUCKET_NAME"),
}


def _env_may_fill(schema: dict[str, Any]) -> None:
    """In the JSON Schema, a setting the environment may supply is not required in the file."""
    schema["required"] = [name for name in schema.get("required", []) if name not in _ENV]


class Settings(BaseModel):
    """Options of a ``type: oss`` backend; unset ones fall back to ``OSS_*`` then ``ALICLOUD_OSS_*``."""

    model_config = ConfigDict(extra="forbid", title="oss backend", json_schema_extra=_env_may_fill)

    type: Literal["oss"]
    endpoint: str = Field(description="e.g. https://oss-cn-hangzhou.aliyuncs.com (scheme defaults to https)")
    region: str | None = Field(
        default=None, description="e.g. cn-hangzhou; derived from the endpoint if unset"
    )
    access_key_id: str = Field(repr=False)
    access_key_secret: str = Field(repr=False)
    security_token: str | None = Field(default=None, repr=False)
    auth_version: Literal["v1", "v4"] = "v4"
    connect_timeout: float = Field(default=30.0, gt=0)
    max_workers: int = Field(default=16, ge=1, le=256)
    #: A bucket on this store holding the bucket settings the gateway evaluates itself (ACLs, policies,
    #: CORS, default encryption) and the object records the store does not keep (stored checksums,
    #: part boundaries, completed uploads); created on first use and hidden from ListBuckets. Unset:
    #: the settings calls answer NotImplemented and no checksum is stored.
    meta_bucket: str | None = None
    part_size: int = Field(default=8 * MiB, ge=MIN_PART_SIZE, le=5 * 1024 * MiB)
    #: a bucket the readiness check looks at instead of listing every bucket (RAM users often cannot)
    bucket: str | None = None
    #: dial this address instead of resolving <bucket>.<endpoint host> (private links, the test emulator)
    connect_address: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _env_fallbacks(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field, names in _ENV.items():
            if data.get(field) in (None, ""):
                value = next((os.environ[n] for n in names if os.environ.get(n)), None)
                if value is not None:
                    data[field] = value
        return data

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        if "://" not in self.endpoint:
            self.endpoint = "https://" + self.endpoint
        if self.region is None:
            self.region = _region_of(self.endpoint)
        if self.auth_version == "v4" and not self.region:
            raise ValueError(
                "oss backend with auth_version v4 needs a region (OSS_REGION or ALICLOUD_OSS_REGION)"
            )
        return self


def _region_of(endpoint: str) -> str | None:
    """``cn-hangzhou`` from ``oss-cn-hangzhou(-internal).aliyuncs.com``."""
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    first = host.split(".", 1)[0]
    if first.startswith("oss-"):
        return first[4:].removesuffix("-internal")
    return None
