"""Part boundary tests of the contract suite (mixed into BackendContract).

A multipart object remembers the parts it was completed from (``Backend.object_parts``: the ETag, each
part's size and checksums, in order), which GetObject / HeadObject with ``partNumber`` and
GetObjectAttributes' ObjectParts need; an object not uploaded in parts answers None. A backend whose
store cannot tell the boundaries says so in ``part_boundaries`` (the test class attribute) and must then
raise NotImplementedByBackend for a multipart object, which these tests assert before skipping.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectMeta
from tests.helpers.bodies import ChunkedBody, MiB, pattern, put_bytes


class AttributesContract:
    #: The store can tell a multipart object's part boundaries.
    part_boundaries: ClassVar[bool] = True

    async def _multipart(self, backend: Backend, bucket: str, key: str, sizes: list[int]) -> str:
        upload = await backend.create_multipart_upload(bucket, key, ObjectMeta())
        done = []
        for number, size in enumerate(sizes, start=1):
            part = await backend.upload_part(
                bucket, key, upload, number, ChunkedBody(pattern(size, seed=number))
            )
            done.append(CompletedPart(number, part.etag))
        return (await backend.complete_multipart_upload(bucket, key, upload, done)).etag

    async def test_single_part_object_has_no_parts(self, backend: Backend, bucket: str) -> None:
        await put_bytes(backend, bucket, "plain", b"not in parts")
        try:
            assert await backend.object_parts(bucket, "plain") is None
        except be.NotImplementedByBackend:
            assert not self.part_boundaries
            pytest.skip("the backend cannot tell part boundaries (NotImplemented), as it declares")
        with pytest.raises(be.NoSuchKey):
            await backend.object_parts(bucket, "absent")

    async def test_multipart_boundaries(self, backend: Backend, bucket: str) -> None:
        sizes = [5 * MiB, 5 * MiB + 3, 1234]
        etag = await self._multipart(backend, bucket, "mp", sizes)
        if not self.part_boundaries:
            with pytest.raises(be.NotImplementedByBackend):
                await backend.object_parts(bucket, "mp")
            pytest.skip("the backend cannot tell part boundaries (NotImplemented), as it declares")
        found = await backend.object_parts(bucket, "mp")
        assert found is not None
        parts_etag, parts = found
        assert parts_etag == etag
        assert [(p.part_number, p.size) for p in parts] == [(1, sizes[0]), (2, sizes[1]), (3, sizes[2])]
