"""Conditional write tests of the contract suite (mixed into BackendContract).

``If-None-Match: *`` and ``If-Match`` on PutObject, CopyObject (the destination) and
CompleteMultipartUpload are decided by the store in the same step as the write: writers racing on one
key get exactly one winner. A backend that cannot decide a condition atomically says so in
``conditional_writes`` (the test class attribute) and must then refuse it with NotImplementedByBackend,
which these tests assert before skipping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

import anyio
import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectInfo, ObjectMeta, WriteCondition
from tests.helpers.bodies import ChunkedBody, get_bytes, md5_hex, pattern, put_bytes

CREATE = WriteCondition(if_none_match_star=True)
RACERS = 32
BOTH = frozenset({"if_none_match", "if_match"})


def if_match(etag: str) -> WriteCondition:
    return WriteCondition(if_match=etag)


class ConditionalContract:
    #: The conditions the backend decides atomically; any other it must refuse with NotImplementedByBackend.
    conditional_writes: ClassVar[frozenset[str]] = BOTH

    async def _decides(self, kind: str, attempt: Callable[[], Awaitable[object]]) -> None:
        """Skip (after asserting the refusal) when the backend declares it cannot decide ``kind``."""
        if kind not in self.conditional_writes:
            with pytest.raises(be.NotImplementedByBackend):
                await attempt()
            pytest.skip(f"the backend refuses {kind} writes (NotImplemented), as it declares")

    async def _put(
        self, backend: Backend, bucket: str, key: str, data: bytes, cond: WriteCondition
    ) -> ObjectInfo:
        return await backend.put_object(bucket, key, ChunkedBody(data), ObjectMeta(), cond)

    async def test_if_none_match_race_has_one_winner(self, backend: Backend, bucket: str) -> None:
        await self._decides("if_none_match", lambda: self._put(backend, bucket, "race", b"x", CREATE))
        bodies = [pattern(1000 + n, seed=n) for n in range(RACERS)]
        outcomes: list[ObjectInfo | BaseException] = [RuntimeError("not run")] * RACERS

        async def one(n: int) -> None:
            try:
                outcomes[n] = await self._put(backend, bucket, "race", bodies[n], CREATE)
            except be.BackendError as exc:
                outcomes[n] = exc

        async with anyio.create_task_group() as tg:
            for n in range(RACERS):
                tg.start_soon(one, n)
        winners = [n for n, o in enumerate(outcomes) if isinstance(o, ObjectInfo)]
        losers = [o for o in outcomes if not isinstance(o, ObjectInfo)]
        assert len(winners) == 1, f"{len(winners)} racing If-None-Match: * writers won"
        assert all(isinstance(o, be.PreconditionFailed) for o in losers), losers
        assert await get_bytes(backend, bucket, "race") == bodies[winners[0]]

    async def test_if_none_match_on_existing_key(self, backend: Backend, bucket: str) -> None:
        await self._decides("if_none_match", lambda: self._put(backend, bucket, "new", b"x", CREATE))
        await backend.delete_object(bucket, "new")
        created = await self._put(backend, bucket, "new", b"first", CREATE)
        assert created.etag == md5_hex(b"first")
        with pytest.raises(be.PreconditionFailed):
            await self._put(backend, bucket, "new", b"second", CREATE)
        assert await get_bytes(backend, bucket, "new") == b"first"

    async def test_if_match(self, backend: Backend, bucket: str) -> None:
        first = await put_bytes(backend, bucket, "doc", b"v1")
        await self._decides(
            "if_match", lambda: self._put(backend, bucket, "doc", b"v2", if_match(first.etag))
        )
        with pytest.raises(be.PreconditionFailed):
            await self._put(backend, bucket, "doc", b"v2", if_match(md5_hex(b"something else")))
        assert await get_bytes(backend, bucket, "doc") == b"v1"
        second = await self._put(backend, bucket, "doc", b"v2", if_match(first.etag))
        assert second.etag == md5_hex(b"v2")
        with pytest.raises(be.PreconditionFailed):  # the old ETag no longer holds
            await self._put(backend, bucket, "doc", b"v3", if_match(first.etag))
        assert await get_bytes(backend, bucket, "doc") == b"v2"
        with pytest.raises(be.NoSuchKey):
            await self._put(backend, bucket, "absent", b"v1", if_match(first.etag))

    async def test_conditional_copy(self, backend: Backend, bucket: str) -> None:
        src = await put_bytes(backend, bucket, "src", b"source bytes")
        dst = await put_bytes(backend, bucket, "dst", b"old destination")

        def copy(key: str, cond: WriteCondition) -> Awaitable[ObjectInfo]:
            return backend.copy_object(bucket, "src", bucket, key, None, cond)

        if "if_none_match" in self.conditional_writes:
            with pytest.raises(be.PreconditionFailed):
                await copy("dst", CREATE)
            assert (await copy("fresh", CREATE)).etag == src.etag
            assert await get_bytes(backend, bucket, "fresh") == b"source bytes"
        else:
            await self._decides("if_none_match", lambda: copy("fresh", CREATE))
        await self._decides("if_match", lambda: copy("dst", if_match(dst.etag)))
        with pytest.raises(be.PreconditionFailed):
            await copy("dst", if_match(src.etag))
        assert await get_bytes(backend, bucket, "dst") == b"old destination"
        assert (await copy("dst", if_match(dst.etag))).etag == src.etag
        assert await get_bytes(backend, bucket, "dst") == b"source bytes"

    async def _upload(
        self, backend: Backend, bucket: str, key: str, data: bytes
    ) -> tuple[str, CompletedPart]:
        upload = await backend.create_multipart_upload(bucket, key, ObjectMeta())
        part = await backend.upload_part(bucket, key, upload, 1, ChunkedBody(data))
        return upload, CompletedPart(1, part.etag)

    async def test_conditional_complete(self, backend: Backend, bucket: str) -> None:
        old = await put_bytes(backend, bucket, "mp", b"existing")
        data = pattern(1000, seed=7)
        if "if_none_match" in self.conditional_writes:
            upload, part = await self._upload(backend, bucket, "mp", data)
            with pytest.raises(be.PreconditionFailed):
                await backend.complete_multipart_upload(bucket, "mp", upload, [part], CREATE)
            assert await get_bytes(backend, bucket, "mp") == b"existing"
            await backend.abort_multipart_upload(bucket, "mp", upload)
            upload, part = await self._upload(backend, bucket, "mp-new", data)
            await backend.complete_multipart_upload(bucket, "mp-new", upload, [part], CREATE)
            assert await get_bytes(backend, bucket, "mp-new") == data
        upload, part = await self._upload(backend, bucket, "mp", data)
        try:
            await self._decides(
                "if_match",
                lambda: backend.complete_multipart_upload(bucket, "mp", upload, [part], if_match(old.etag)),
            )
            with pytest.raises(be.PreconditionFailed):
                await backend.complete_multipart_upload(
                    bucket, "mp", upload, [part], if_match(md5_hex(b"no"))
                )
            assert await get_bytes(backend, bucket, "mp") == b"existing"
            done = await backend.complete_multipart_upload(bucket, "mp", upload, [part], if_match(old.etag))
            assert done.etag != old.etag
            assert await get_bytes(backend, bucket, "mp") == data
        finally:
            if "if_match" not in self.conditional_writes:
                await backend.abort_multipart_upload(bucket, "mp", upload)
