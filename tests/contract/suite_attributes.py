"""Part boundary tests of the contract suite (mixed into BackendContract).

A multipart object remembers the parts it was completed from (``Backend.object_parts``: the ETag, each
part's size and checksums, in order), which GetObject / HeadObject with ``partNumber`` and
GetObjectAttributes' ObjectParts need; an object not uploaded in parts answers None. A backend whose
store cannot tell the boundaries says so in ``part_boundaries`` (the test class attribute) and must then
raise NotImplementedByBackend for a multipart object, which these tests assert before skipping.
"""

from __future__ import annotations

import zlib
from base64 import b64encode
from typing import ClassVar

import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectMeta
from backends.wire.checksums import combine_composite, combine_full_object
from tests.helpers.bodies import ChunkedBody, MiB, need, pattern, put_bytes


def _crc32(data: bytes) -> str:
    return b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


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

    @pytest.mark.parametrize("kind", ["COMPOSITE", "FULL_OBJECT"])
    async def test_multipart_checksums_stored(self, backend: Backend, bucket: str, kind: str) -> None:
        """The object's checksum is combined from the parts' as the upload asked, and kept with them."""
        need(backend, "stores_checksums")
        datas = [pattern(5 * MiB, seed=21), pattern(1000, seed=22)]
        sums = [_crc32(d) for d in datas]
        meta = ObjectMeta(checksums={"crc32": ""}, checksum_type=kind)
        try:
            upload = await backend.create_multipart_upload(bucket, "ck", meta)
        except be.NotImplementedByBackend:
            assert kind == "FULL_OBJECT" and backend.capabilities.encryption
            pytest.skip("encrypted parts are larger than the plaintext: FULL_OBJECT is NotImplemented")
        done = []
        for number, (data, value) in enumerate(zip(datas, sums, strict=True), start=1):
            body = ChunkedBody(data, checksums={"crc32": value})
            part = await backend.upload_part(bucket, "ck", upload, number, body)
            done.append(CompletedPart(number, part.etag, {"crc32": value}))
        info = await backend.complete_multipart_upload(bucket, "ck", upload, done)
        if kind == "COMPOSITE":
            expected = combine_composite("crc32", sums)
        else:
            expected = combine_full_object("crc32", [(v, len(d)) for v, d in zip(sums, datas, strict=True)])
        assert (info.meta.checksums.get("crc32"), info.meta.checksum_type) == (expected, kind)
        head = await backend.stored_checksums(bucket, "ck", await backend.head_object(bucket, "ck"))
        assert (head.meta.checksums.get("crc32"), head.meta.checksum_type) == (expected, kind)
        if self.part_boundaries:
            found = await backend.object_parts(bucket, "ck")
            assert found is not None
            assert [p.checksums.get("crc32") for p in found[1]] == sums

    async def test_checksums_go_with_their_object(self, backend: Backend, bucket: str) -> None:
        """A deleted or replaced object's checksums are never answered for the next object of the key."""
        need(backend, "stores_checksums")
        data = b"the same bytes twice"
        sums = {"crc32": _crc32(data)}

        async def stored() -> dict[str, str]:
            head = await backend.head_object(bucket, "k")
            return (await backend.stored_checksums(bucket, "k", head)).meta.checksums

        await backend.put_object(bucket, "k", ChunkedBody(data, checksums=sums), ObjectMeta())
        assert await stored() == sums
        await backend.delete_object(bucket, "k")
        await put_bytes(backend, bucket, "k", data)
        assert await stored() == {}
        await backend.put_object(bucket, "k", ChunkedBody(data, checksums=sums), ObjectMeta())
        await put_bytes(backend, bucket, "k", b"other bytes")
        assert await stored() == {}
