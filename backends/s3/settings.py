"""Options of a ``type: s3`` backend. Imports no SDK: a configuration validates without minio-py."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backends.base import MIN_PART_SIZE

MiB = 1024 * 1024
#: S3's largest single PutObject and largest part.
MAX_SINGLE_PUT = 5 * 1024 * MiB


def endpoint_host(endpoint: str) -> str:
    """host:port for minio; the endpoint may be a URL without path, query or credentials."""
    if "://" not in endpoint:
        if "/" in endpoint or not endpoint:
            raise ValueError(f"endpoint {endpoint!r} must be host[:port] or http(s)://host[:port]")
        return endpoint
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"endpoint {endpoint!r} must be an http or https URL")
    if url.path not in ("", "/") or url.query or url.fragment or url.username or url.password:
        raise ValueError("endpoint must not carry a path, query or credentials")
    return url.netloc


class Settings(BaseModel):
    """Options of a ``type: s3`` backend. Secrets are kept out of repr (and so out of logs)."""

    model_config = ConfigDict(extra="forbid", title="s3 backend")

    type: Literal["s3"]
    endpoint: str = Field(description="http(s)://host:port, or host:port (then `secure` decides)")
    region: str = "us-east-1"
    access_key: str | None = Field(default=None, repr=False)
    secret_key: str | None = Field(default=None, repr=False)
    session_token: str | None = Field(default=None, repr=False)
    secure: bool | None = None
    ca_bundle: str | None = None
    addressing: Literal["path", "virtual"] = "path"
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_pool_connections: int = Field(default=16, ge=1)
    part_size: int = Field(default=8 * MiB, ge=MIN_PART_SIZE, le=MAX_SINGLE_PUT)
    #: Bodies of known size above this go out as the store's multipart (streamed parts of part_size).
    multipart_threshold: int = Field(default=MAX_SINGLE_PUT, ge=0, le=MAX_SINGLE_PUT)
    max_workers: int = Field(default=16, ge=1)
    #: A bucket on this store holding the bucket settings the gateway evaluates itself (ACLs, policies,
    #: CORS, default encryption) and the object records the store does not keep (stored checksums,
    #: part boundaries, completed uploads); created on first use and hidden from ListBuckets. Unset:
    #: the settings calls answer NotImplemented and no checksum is stored.
    meta_bucket: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, endpoint: str) -> str:
        endpoint_host(endpoint)
        return endpoint

    @model_validator(mode="after")
    def _check_keys(self) -> Settings:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("access_key and secret_key must be given together")
        return self

    def host_port(self) -> str:
        """host:port for minio."""
        return endpoint_host(self.endpoint)

    def is_secure(self) -> bool:
        if self.secure is not None:
            return self.secure
        return not self.endpoint.startswith("http://")
