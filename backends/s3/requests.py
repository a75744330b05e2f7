"""The one thing the S3 backend's mixins (tagging, attributes) need of it: its request call."""

from __future__ import annotations

from typing import Any


class StoreRequests:
    """The base of S3Backend's mixins: ``_request`` is S3Backend's (minio's request layer, errors mapped)."""

    name: str

    async def _request(
        self, method: str, bucket: str | None = None, key: str | None = None, **kw: Any
    ) -> Any:  # pragma: no cover - provided by S3Backend
        raise NotImplementedError
