"""Object tagging on an S3-compatible store: its own ``?tagging`` sub-resource, passed through.

Tags written with an object go out as ``x-amz-tagging`` (see s3 wire ``meta_headers``); these calls read
and replace them afterwards. PutObjectTagging requires Content-MD5 on S3, so it is always sent.
"""

from __future__ import annotations

from minio.helpers import md5sum_hash

from backends import errors as be
from backends.s3.requests import StoreRequests
from backends.wire.tagging import parse_tagging, tagging_document


class S3Tagging(StoreRequests):
    """A mixin for S3Backend: the tagging calls over its ``_request``."""

    @staticmethod
    def _tagging_query(version_id: str | None) -> dict[str, str]:
        query = {"tagging": ""}
        if version_id is not None:
            query["versionId"] = version_id
        return query

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        resp = await self._request("GET", bucket, key, query_params=self._tagging_query(version_id))
        if not resp.data.strip():  # Ceph RGW answers an object without tags with an empty body
            return {}
        try:
            return dict(parse_tagging(resp.data))
        except ValueError as exc:
            raise be.InternalBackendError(
                detail=f"unreadable Tagging answer: {exc}", backend=self.name
            ) from None

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        body = tagging_document(tags.items())
        headers = {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or ""}
        await self._request(
            "PUT", bucket, key, body=body, headers=headers, query_params=self._tagging_query(version_id)
        )

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        await self._request("DELETE", bucket, key, query_params=self._tagging_query(version_id))
