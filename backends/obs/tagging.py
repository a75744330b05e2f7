"""Object tagging on OBS: its own tags, passed through (the SDK's Set/Get/DeleteObjectTagging, with
``versionId``), mixed into ``obs.ObsBackend``.

Tags written with an object go out as ``x-obs-tagging`` (``x-amz-tagging`` in v4/v2 mode; see
``wire.tag_headers``); OBS answers ``x-obs-tagging-count`` on GET and HEAD. OBS's rules are narrower than
S3's (values of at most 255 characters, none of ``, / | < > = * \\`` in keys or values): a tag set the
gateway accepted and OBS refuses comes back as OBS's error.
"""

from __future__ import annotations

from backends.obs.ops import ObsOperations


class ObsTagging(ObsOperations):
    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        result = await self._ok("getObjectTagging", bucket, key, versionId=version_id)
        tags = getattr(result.body, "tags", None) or []  # Ceph RGW answers an untagged object bodiless
        return {str(tag.key): str(tag.value or "") for tag in tags}

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        if not tags:  # an empty set is no set: the SDK refuses it, S3 takes it as removing every tag
            await self.delete_object_tagging(bucket, key, version_id=version_id)
            return
        await self._ok("setObjectTagging", bucket, key, dict(tags), versionId=version_id)

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        await self._ok("deleteObjectTagging", bucket, key, versionId=version_id)
