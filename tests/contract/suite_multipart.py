"""Multipart upload tests of the contract suite (mixed into BackendContract)."""

from __future__ import annotations

import hashlib
from base64 import b64encode
from typing import ClassVar

import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectMeta
from tests.helpers.bodies import (
    BodyFailed,
    ChunkedBody,
    FailingBody,
    MiB,
    get_bytes,
    md5_hex,
    multipart_etag,
    need,
    part_md5_hex,
    pattern,
    put_bytes,
)

PART = 5 * MiB
MAX_PAGES = 100


def _done(*parts: tuple[int, bytes]) -> list[CompletedPart]:
    return [CompletedPart(n, md5_hex(data)) for n, data in parts]


class MultipartContract:
    #: A CompleteMultipartUpload repeated after it succeeded answers the same (S3 does); a backend whose
    #: store forgets a completed upload at once declares False and must then answer NoSuchUpload.
    repeat_complete: ClassVar[bool] = True

    async def test_complete(self, backend: Backend, bucket: str) -> None:
        meta = ObjectMeta(content_type="video/mp4", user={"origin": "multipart"})
        upload = await backend.create_multipart_upload(bucket, "mp/obj", meta)
        assert isinstance(upload, str) and upload
        one, two = pattern(PART, seed=1), pattern(MiB + 3, seed=2)
        p1 = await backend.upload_part(bucket, "mp/obj", upload, 1, ChunkedBody(one, 100_003))
        p2 = await backend.upload_part(bucket, "mp/obj", upload, 2, ChunkedBody(two, 65_536))
        assert (p1.part_number, p1.etag, p1.size) == (1, part_md5_hex(one), PART)
        assert (p2.part_number, p2.etag, p2.size) == (2, part_md5_hex(two), MiB + 3)
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "mp/obj")
        assert (await backend.list_objects(bucket)).objects == []
        listed = await backend.list_parts(bucket, "mp/obj", upload)
        assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [
            (1, p1.etag, PART),
            (2, p2.etag, MiB + 3),
        ]
        assert not listed.is_truncated
        info = await backend.complete_multipart_upload(bucket, "mp/obj", upload, _done((1, one), (2, two)))
        assert info.etag == multipart_etag([one, two])
        assert info.size == len(one) + len(two)
        head = await backend.head_object(bucket, "mp/obj")
        assert (head.etag, head.size) == (info.etag, info.size)
        assert (head.meta.content_type, head.meta.user) == ("video/mp4", {"origin": "multipart"})
        assert await get_bytes(backend, bucket, "mp/obj") == one + two
        assert (await backend.list_multipart_uploads(bucket)).uploads == []
        with pytest.raises(be.NoSuchUpload):
            await backend.list_parts(bucket, "mp/obj", upload)

    async def test_complete_repeated(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "again", ObjectMeta())
        await backend.upload_part(bucket, "again", upload, 1, ChunkedBody(b"first answer lost"))
        done = _done((1, b"first answer lost"))
        info = await backend.complete_multipart_upload(bucket, "again", upload, done)
        if not self.repeat_complete:
            with pytest.raises(be.NoSuchUpload):
                await backend.complete_multipart_upload(bucket, "again", upload, done)
            pytest.skip("the store forgets a completed upload at once, as the backend declares")
        again = await backend.complete_multipart_upload(bucket, "again", upload, done)
        assert (again.etag, again.size, again.version_id) == (info.etag, info.size, info.version_id)
        assert (await backend.list_multipart_uploads(bucket)).uploads == []
        assert await get_bytes(backend, bucket, "again") == b"first answer lost"
        with pytest.raises(be.NoSuchUpload):  # the id belongs to its key only
            await backend.complete_multipart_upload(bucket, "other", upload, done)

    async def test_single_small_part(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "small", ObjectMeta())
        await backend.upload_part(bucket, "small", upload, 1, ChunkedBody(b"tiny"))
        info = await backend.complete_multipart_upload(bucket, "small", upload, _done((1, b"tiny")))
        assert info.etag == multipart_etag([b"tiny"])
        assert await get_bytes(backend, bucket, "small") == b"tiny"

    async def test_part_checksums(self, backend: Backend, bucket: str) -> None:
        need(backend, "stores_checksums")
        data = pattern(1000, seed=3)
        sums = {"sha256": b64encode(hashlib.sha256(data).digest()).decode()}
        upload = await backend.create_multipart_upload(bucket, "ck", ObjectMeta())
        part = await backend.upload_part(bucket, "ck", upload, 1, ChunkedBody(data, 99, checksums=sums))
        assert part.checksums.get("sha256") == sums["sha256"]
        listed = await backend.list_parts(bucket, "ck", upload)
        assert listed.parts[0].checksums.get("sha256") == sums["sha256"]

    async def test_wrong_etag_and_missing_part(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(b"abc"))
        with pytest.raises(be.InvalidPart):
            await backend.complete_multipart_upload(bucket, "k", upload, [CompletedPart(1, md5_hex(b"abd"))])
        with pytest.raises(be.InvalidPart):
            await backend.complete_multipart_upload(bucket, "k", upload, _done((1, b"abc"), (2, b"zzz")))
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "k")
        info = await backend.complete_multipart_upload(
            bucket, "k", upload, [CompletedPart(1, f'"{md5_hex(b"abc")}"')]
        )
        assert info.etag == multipart_etag([b"abc"])

    async def test_unordered_parts(self, backend: Backend, bucket: str) -> None:
        big, small = pattern(PART, seed=4), b"last"
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        await backend.upload_part(bucket, "k", upload, 2, ChunkedBody(big))
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(small))
        with pytest.raises(be.InvalidPartOrder):
            await backend.complete_multipart_upload(bucket, "k", upload, _done((2, big), (1, small)))
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "k")

    async def test_part_too_small(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(b"a" * 1000))
        await backend.upload_part(bucket, "k", upload, 2, ChunkedBody(b"b"))
        with pytest.raises(be.EntityTooSmall):
            await backend.complete_multipart_upload(bucket, "k", upload, _done((1, b"a" * 1000), (2, b"b")))
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "k")

    async def test_reupload_part_replaces(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(b"old part"))
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(b"new"))
        listed = await backend.list_parts(bucket, "k", upload)
        assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [(1, part_md5_hex(b"new"), 3)]
        with pytest.raises(be.InvalidPart):
            await backend.complete_multipart_upload(bucket, "k", upload, _done((1, b"old part")))
        await backend.complete_multipart_upload(bucket, "k", upload, _done((1, b"new")))
        assert await get_bytes(backend, bucket, "k") == b"new"

    async def test_failed_part_body(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(b"kept"))
        with pytest.raises(BodyFailed):
            await backend.upload_part(
                bucket, "k", upload, 1, FailingBody(pattern(2 * MiB), fail_after=MiB + 7)
            )
        with pytest.raises(BodyFailed):
            await backend.upload_part(
                bucket, "k", upload, 2, FailingBody(pattern(2 * MiB), fail_after=MiB + 7)
            )
        listed = await backend.list_parts(bucket, "k", upload)
        assert [(p.part_number, p.etag) for p in listed.parts] == [(1, part_md5_hex(b"kept"))]

    async def test_abort(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        await backend.upload_part(bucket, "k", upload, 1, ChunkedBody(b"data"))
        await backend.abort_multipart_upload(bucket, "k", upload)
        with pytest.raises(be.NoSuchUpload):
            await backend.list_parts(bucket, "k", upload)
        with pytest.raises(be.NoSuchUpload):
            await backend.upload_part(bucket, "k", upload, 2, ChunkedBody(b"more"))
        with pytest.raises(be.NoSuchUpload):
            await backend.complete_multipart_upload(bucket, "k", upload, _done((1, b"data")))
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "k")
        assert (await backend.list_multipart_uploads(bucket)).uploads == []

    @pytest.mark.parametrize("upload_id", ["does-not-exist", "../../etc", "0" * 32, "a/b", ""], ids=repr)
    async def test_unknown_upload(self, backend: Backend, bucket: str, upload_id: str) -> None:
        real = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        assert real != upload_id
        with pytest.raises(be.NoSuchUpload):
            await backend.upload_part(bucket, "k", upload_id, 1, ChunkedBody(b"x"))
        with pytest.raises(be.NoSuchUpload):
            await backend.list_parts(bucket, "k", upload_id)
        with pytest.raises(be.NoSuchUpload):
            await backend.complete_multipart_upload(bucket, "k", upload_id, _done((1, b"x")))
        with pytest.raises(be.NoSuchUpload):
            await backend.abort_multipart_upload(bucket, "k", upload_id)

    async def test_upload_id_bound_to_key(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "right", ObjectMeta())
        with pytest.raises(be.NoSuchUpload):
            await backend.upload_part(bucket, "wrong", upload, 1, ChunkedBody(b"x"))

    async def test_upload_part_copy(self, backend: Backend, bucket: str, other_bucket: str) -> None:
        need(backend, "server_side_copy")
        source = pattern(PART + MiB, seed=6)
        await put_bytes(backend, other_bucket, "src", source)
        await put_bytes(backend, bucket, "small-src", b"tail bytes")
        upload = await backend.create_multipart_upload(bucket, "dst", ObjectMeta())
        p1 = await backend.upload_part_copy(
            bucket, "dst", upload, 1, other_bucket, "src", (MiB, MiB + PART - 1)
        )
        p2 = await backend.upload_part_copy(bucket, "dst", upload, 2, bucket, "small-src", None)
        first = source[MiB : MiB + PART]
        assert (p1.etag, p1.size) == (part_md5_hex(first), PART)
        assert (p2.etag, p2.size) == (part_md5_hex(b"tail bytes"), 10)
        info = await backend.complete_multipart_upload(
            bucket, "dst", upload, _done((1, first), (2, b"tail bytes"))
        )
        assert info.etag == multipart_etag([first, b"tail bytes"])
        assert await get_bytes(backend, bucket, "dst") == first + b"tail bytes"

    async def test_upload_part_copy_missing_source(self, backend: Backend, bucket: str) -> None:
        need(backend, "server_side_copy")
        upload = await backend.create_multipart_upload(bucket, "dst", ObjectMeta())
        with pytest.raises(be.NoSuchKey):
            await backend.upload_part_copy(bucket, "dst", upload, 1, bucket, "missing", None)

    async def test_list_parts_paging(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "k", ObjectMeta())
        numbers = [1, 2, 3, 5, 8, 13, 10000]
        for n in reversed(numbers):
            await backend.upload_part(bucket, "k", upload, n, ChunkedBody(str(n).encode()))
        seen: list[int] = []
        marker = 0
        for _ in range(MAX_PAGES):
            page = await backend.list_parts(bucket, "k", upload, part_number_marker=marker, max_parts=2)
            assert len(page.parts) <= 2
            seen += [p.part_number for p in page.parts]
            for part in page.parts:
                assert (part.etag, part.size) == (
                    part_md5_hex(str(part.part_number).encode()),
                    len(str(part.part_number)),
                )
            if not page.is_truncated:
                break
            assert page.next_part_number_marker == page.parts[-1].part_number
            marker = page.next_part_number_marker
        assert seen == numbers

    async def test_list_uploads(self, backend: Backend, bucket: str) -> None:
        made = []
        for key in ("u/b", "u/a", "u/b", "v/c", "w"):
            made.append((key, await backend.create_multipart_upload(bucket, key, ObjectMeta())))
        page = await backend.list_multipart_uploads(bucket, prefix="u/")
        assert sorted((u.key, u.upload_id) for u in page.uploads) == sorted(
            m for m in made if m[0].startswith("u/")
        )
        assert [u.key for u in page.uploads] == ["u/a", "u/b", "u/b"]
        assert all(u.initiated.tzinfo is not None for u in page.uploads)
        page = await backend.list_multipart_uploads(bucket, delimiter="/")
        assert page.common_prefixes == ["u/", "v/"]
        assert [(u.key, u.upload_id) for u in page.uploads] == [m for m in made if m[0] == "w"]
        seen: list[tuple[str, str]] = []
        key_marker = id_marker = ""
        for _ in range(MAX_PAGES):
            page = await backend.list_multipart_uploads(
                bucket, key_marker=key_marker, upload_id_marker=id_marker, max_uploads=1
            )
            assert len(page.uploads) <= 1
            seen += [(u.key, u.upload_id) for u in page.uploads]
            if not page.is_truncated:
                break
            assert page.next_key_marker is not None and page.next_upload_id_marker is not None
            key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
        assert sorted(seen) == sorted(made)
        assert [k for k, _ in seen] == sorted(k for k, _ in made)
