"""Object tagging on OSS: its own tags, passed through (oss2's Put/Get/DeleteObjectTagging).

Tags written with an object go out as ``x-oss-tagging`` (see oss support ``meta_to_headers``); OSS answers
``x-oss-tagging-count`` on GET and HEAD. OSS's rules are narrower than S3's (keys of at most 128 and
values of 256 *bytes*, no ``@``): a tag set the gateway accepted and OSS refuses comes back as OSS's error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import oss2
from oss2.models import Tagging, TaggingRule

from backends import errors as be

T = TypeVar("T")


def _params(version_id: str | None) -> dict[str, str] | None:
    return {"versionId": version_id} if version_id is not None else None


class OssTagging:
    """A mixin for OssBackend: the tagging calls over its ``_run`` and ``_bucket``."""

    name: str

    def _bucket(self, name: str) -> oss2.Bucket:  # pragma: no cover - provided by OssBackend
        raise NotImplementedError

    async def _run(
        self, fn: Callable[..., T], *args: Any, missing: type[be.BackendError] = be.NoSuchKey, **kwargs: Any
    ) -> T:  # pragma: no cover - provided by OssBackend
        raise NotImplementedError

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        result = await self._run(self._bucket(bucket).get_object_tagging, key, params=_params(version_id))
        return dict(result.tag_set.tagging_rule)

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        rule = TaggingRule()
        try:
            for name, value in tags.items():
                rule.add(name, value)
        except oss2.exceptions.ClientError as exc:  # oss2's own length checks
            raise be.InvalidArgument(f"OSS refuses the tag set: {exc}", backend=self.name) from None
        await self._run(
            self._bucket(bucket).put_object_tagging, key, Tagging(rule), params=_params(version_id)
        )

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        await self._run(self._bucket(bucket).delete_object_tagging, key, params=_params(version_id))
