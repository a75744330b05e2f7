"""Object tagging tests of the contract suite (mixed into BackendContract).

Tags set with an object (``ObjectMeta.tags`` on PutObject, CreateMultipartUpload and CopyObject) land in
the same step as the object; Put/Get/DeleteObjectTagging replace them afterwards without touching data,
ETag or metadata; a read reports how many there are (``ObjectMeta.tagging_count``). A backend whose store
keeps no object tags says so in ``object_tags`` (the test class attribute) and must then refuse every
tagged write and tagging call with NotImplementedByBackend, which these tests assert before skipping.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectMeta
from tests.helpers.bodies import ChunkedBody, get_bytes, md5_hex, put_bytes

#: Characters every S3-protocol store and OSS accept (OSS allows no ``@``, which S3 does: see the README).
TAGS = {"team": "data lake", "stage": "prod+1", "ünïcode": "välüe/=:-_."}
#: OBS documents no ``, / | < > = * \`` in tags (see the README's gap table).
OBS_TAGS = {"team": "data lake", "stage": "prod+1", "ünïcode": "välüe:-_."}


class TaggingContract:
    #: The store keeps object tags; when False every tagging call must be NotImplementedByBackend.
    object_tags: ClassVar[bool] = True
    #: A tag set of unusual characters the store accepts.
    tag_sample: ClassVar[dict[str, str]] = TAGS

    async def _tags_kept(self, backend: Backend, bucket: str) -> None:
        """Skip (after asserting the refusals) when the backend declares it keeps no tags."""
        if self.object_tags:
            return
        await put_bytes(backend, bucket, "plain", b"x")
        with pytest.raises(be.NotImplementedByBackend):
            await backend.put_object(bucket, "tagged", ChunkedBody(b"x"), ObjectMeta(tags={"a": "b"}))
        with pytest.raises(be.NotImplementedByBackend):
            await backend.put_object_tagging(bucket, "plain", {"a": "b"})
        with pytest.raises(be.NotImplementedByBackend):
            await backend.create_multipart_upload(bucket, "tagged", ObjectMeta(tags={"a": "b"}))
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "tagged")
        pytest.skip("the backend keeps no object tags (NotImplemented), as it declares")

    async def test_tags_set_with_the_object(self, backend: Backend, bucket: str) -> None:
        await self._tags_kept(backend, bucket)
        tags = dict(self.tag_sample)
        await backend.put_object(bucket, "t", ChunkedBody(b"tagged body"), ObjectMeta(tags=tags))
        assert await backend.get_object_tagging(bucket, "t") == self.tag_sample
        assert (await backend.head_object(bucket, "t")).meta.tagging_count == len(self.tag_sample)
        result = await backend.get_object(bucket, "t")
        assert result.info.meta.tagging_count == len(self.tag_sample)
        await result.body.aclose()  # type: ignore[attr-defined]
        await put_bytes(backend, bucket, "u", b"untagged")
        assert await backend.get_object_tagging(bucket, "u") == {}
        assert (await backend.head_object(bucket, "u")).meta.tagging_count == 0

    async def test_put_tagging_keeps_data_and_etag(self, backend: Backend, bucket: str) -> None:
        await self._tags_kept(backend, bucket)
        meta = ObjectMeta(content_type="text/plain", user={"owner": "me"}, tags={"old": "1"})
        await backend.put_object(bucket, "doc", ChunkedBody(b"the data"), meta)
        await backend.put_object_tagging(bucket, "doc", {"new": "2", "other": ""})
        assert await backend.get_object_tagging(bucket, "doc") == {"new": "2", "other": ""}
        info = await backend.head_object(bucket, "doc")
        assert info.etag == md5_hex(b"the data")
        assert info.meta.content_type == "text/plain"
        assert info.meta.user == {"owner": "me"}
        assert info.meta.tagging_count == 2
        assert await get_bytes(backend, bucket, "doc") == b"the data"
        await backend.delete_object_tagging(bucket, "doc")
        assert await backend.get_object_tagging(bucket, "doc") == {}
        assert (await backend.head_object(bucket, "doc")).meta.tagging_count == 0
        assert await get_bytes(backend, bucket, "doc") == b"the data"

    async def test_overwrite_replaces_tags(self, backend: Backend, bucket: str) -> None:
        await self._tags_kept(backend, bucket)
        await backend.put_object(bucket, "k", ChunkedBody(b"1"), ObjectMeta(tags={"a": "1"}))
        await put_bytes(backend, bucket, "k", b"2")
        assert await backend.get_object_tagging(bucket, "k") == {}

    async def test_tagging_missing_object(self, backend: Backend, bucket: str) -> None:
        await self._tags_kept(backend, bucket)
        with pytest.raises(be.NoSuchKey):
            await backend.get_object_tagging(bucket, "absent")
        with pytest.raises(be.NoSuchKey):
            await backend.put_object_tagging(bucket, "absent", {"a": "b"})
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "absent")  # the failed tagging made no object
        with pytest.raises(be.NoSuchBucket):
            await backend.get_object_tagging(bucket + "-none", "absent")

    async def test_multipart_tags(self, backend: Backend, bucket: str) -> None:
        await self._tags_kept(backend, bucket)
        upload = await backend.create_multipart_upload(bucket, "mp", ObjectMeta(tags={"kind": "multi"}))
        part = await backend.upload_part(bucket, "mp", upload, 1, ChunkedBody(b"only part"))
        await backend.complete_multipart_upload(bucket, "mp", upload, [CompletedPart(1, part.etag)])
        assert await backend.get_object_tagging(bucket, "mp") == {"kind": "multi"}

    async def test_copy_tags(self, backend: Backend, bucket: str) -> None:
        await self._tags_kept(backend, bucket)
        await backend.put_object(bucket, "src", ChunkedBody(b"source"), ObjectMeta(tags={"from": "src"}))
        await backend.copy_object(bucket, "src", bucket, "copied", None)
        assert await backend.get_object_tagging(bucket, "copied") == {"from": "src"}
        await backend.copy_object(bucket, "src", bucket, "replaced", ObjectMeta(tags={"to": "dst"}))
        assert await backend.get_object_tagging(bucket, "replaced") == {"to": "dst"}
        await backend.copy_object(bucket, "src", bucket, "bare", ObjectMeta())
        assert await backend.get_object_tagging(bucket, "bare") == {}
        assert await get_bytes(backend, bucket, "bare") == b"source"
