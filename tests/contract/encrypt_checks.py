"""What the contract suite adds for a backend wrapped in the encrypt composite (mixed into each class).

The suite runs unchanged, object ETags included (an SSE-S3 object's is its plaintext's MD5, as on S3),
with ``opaque_part_etags()``: UploadPart answers the store's ETag of the sealed part. Suite tests that
complete uploads with ETags computed from the data, or expect ListMultipartUploads to repeat
CreateMultipartUpload's id, cannot hold here (the upload id this layer hands out carries the wrapped
key): they are replaced by the tests below, which use the ETags and ids the backend returned, as every
S3 client does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import pytest

from backends import errors as be
from backends.base import Backend, ByteRange, CompletedPart, ObjectMeta, WriteCondition
from backends.composite import sealed
from backends.composite.encrypt import Encrypt
from backends.composite.keys import Keyring
from backends.composite.rotate import rotate
from backends.composite.sealedstreams import BATCH
from backends.sse import CustomerKey, SseRequest, using
from tests.contract.encrypt_unsized_checks import UnsizedChecks
from tests.contract.encrypt_v1_checks import V1FormatChecks
from tests.helpers.bodies import (
    BodyFailed,
    ChunkedBody,
    FailingBody,
    MiB,
    get_bytes,
    multipart_etag,
    pattern,
    put_bytes,
    read_all,
)

PART = 5 * MiB

_NOT_HERE = "encrypted parts' ETags are not MD5s of the data and upload ids carry the wrapped key"


def _replaced(name: str, why: str = _NOT_HERE) -> Callable[..., object]:
    async def test(self: object, backend: Backend, bucket: str) -> None:
        pytest.skip(f"{name}: {why} (see EncryptChecks)")

    test.__name__ = name
    return test


class RotationChecks:
    async def test_rotate_key_rewraps_without_losing_anything(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        single = pattern(100_000, 11)
        first = await put_bytes(backend, bucket, "single", single)
        upload = await backend.create_multipart_upload(bucket, "multi", ObjectMeta())
        parts = [
            await backend.upload_part(bucket, "multi", upload, n, ChunkedBody(pattern(PART, n)))
            for n in (1, 2)
        ]
        await backend.complete_multipart_upload(
            bucket, "multi", upload, [CompletedPart(p.part_number, p.etag) for p in parts]
        )
        with using(SseRequest(write_key=CustomerKey.of(bytes(32)))):
            await put_bytes(backend, bucket, "customer", b"theirs")
        new = Keyring("test-2", {**backend.keyring.keys, "test-2": os.urandom(32)})
        rotated = Encrypt(backend.inner, new, name="rotated")
        report = await rotate(rotated, [bucket])
        assert (report.rewrapped, report.resealed, report.customer, report.failed) == (1, 1, 1, []), (
            report.failed
        )
        only_new = Encrypt(backend.inner, Keyring("test-2", {"test-2": new.keys["test-2"]}), name="only-new")
        assert await get_bytes(only_new, bucket, "single") == single
        assert (await only_new.head_object(bucket, "single")).etag == first.etag  # the bytes did not move
        assert await get_bytes(only_new, bucket, "multi") == pattern(PART, 1) + pattern(PART, 2)
        listed = {o.key: o.size for o in (await only_new.list_objects(bucket)).objects}
        assert listed == {"customer": 6, "multi": 2 * PART, "single": len(single)}
        again = await rotate(rotated, [bucket])
        assert (again.rewrapped, again.resealed, again.current) == (0, 0, 2)


class EncryptChecks(RotationChecks, V1FormatChecks, UnsizedChecks):
    for _name in (
        "test_conditional_complete",
        "test_complete",
        "test_single_small_part",
        "test_wrong_etag_and_missing_part",
        "test_reupload_part_replaces",
        "test_upload_part_copy",
        "test_list_uploads",
        "test_complete_repeated",
    ):
        locals()[_name] = _replaced(_name)
    del _name

    @staticmethod
    async def _raw(backend: Backend, bucket: str, key: str) -> bytes:
        assert isinstance(backend, Encrypt)
        return await read_all(await backend.inner.get_object(bucket, key))

    async def test_bytes_at_rest_are_not_the_plaintext(self, backend: Backend, bucket: str) -> None:
        data = pattern(MiB + 5)
        put = await put_bytes(backend, bucket, "secret", data)
        raw = await self._raw(backend, bucket, "secret")
        assert len(raw) == sealed.stored_size(len(data))
        assert data[:4096] not in raw and data[-4096:] not in raw
        got = await backend.get_object(bucket, "secret")
        assert (got.info.size, got.info.etag) == (len(data), put.etag)
        assert got.info.meta.encryption is not None and got.info.meta.encryption.customer_key_md5 is None
        assert await read_all(got) == data
        head = await backend.head_object(bucket, "secret")
        listed = (await backend.list_objects(bucket)).objects
        assert [(o.key, o.size, o.etag) for o in listed] == [("secret", len(data), put.etag)]
        assert (head.size, head.etag) == (len(data), put.etag)
        assert not any(k.startswith("s3bridge-sse") for k in head.meta.user)
        assert put.etag == hashlib.md5(data).hexdigest()  # SSE-S3: the plaintext's MD5, as on S3

    async def test_if_match_with_returned_etags(self, backend: Backend, bucket: str) -> None:
        first = await put_bytes(backend, bucket, "doc", b"v1")
        if "if_match" not in getattr(self, "conditional_writes", {"if_match"}):
            pytest.skip("the store decides no If-Match")
        with pytest.raises(be.PreconditionFailed):
            await backend.put_object(
                bucket, "doc", ChunkedBody(b"v2"), ObjectMeta(), WriteCondition(if_match="0" * 32)
            )
        second = await backend.put_object(
            bucket, "doc", ChunkedBody(b"v2"), ObjectMeta(), WriteCondition(if_match=first.etag)
        )
        assert second.etag != first.etag
        assert await get_bytes(backend, bucket, "doc") == b"v2"

    async def test_multipart_ranges_and_sizes(self, backend: Backend, bucket: str) -> None:
        one, two, three = pattern(PART, 1), pattern(PART + 64 * 1024, 2), pattern(MiB + 3, 3)
        upload = await backend.create_multipart_upload(bucket, "mp", ObjectMeta(user={"a": "b"}))
        parts = []
        for n, data in enumerate((one, two, three), start=1):
            part = await backend.upload_part(bucket, "mp", upload, n, ChunkedBody(data))
            assert part.size == len(data)
            parts.append(CompletedPart(n, part.etag))
        listed = await backend.list_parts(bucket, "mp", upload)
        assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [
            (c.part_number, c.etag, len(d)) for c, d in zip(parts, (one, two, three), strict=True)
        ]
        info = await backend.complete_multipart_upload(bucket, "mp", upload, parts)
        whole = one + two + three
        assert info.size == len(whole) and info.etag.endswith("-3")
        head = await backend.head_object(bucket, "mp")
        assert (head.size, head.etag, head.meta.user) == (len(whole), info.etag, {"a": "b"})
        assert [(o.size, o.etag) for o in (await backend.list_objects(bucket)).objects] == [
            (len(whole), info.etag)
        ]
        assert await get_bytes(backend, bucket, "mp") == whole
        for first, last in [
            (0, 0),
            (PART - 1, PART),
            (PART - 5, PART + len(two) + 5),
            (len(whole) - 1, None),
        ]:
            end = len(whole) - 1 if last is None else last
            assert await get_bytes(backend, bucket, "mp", ByteRange(first, last)) == whole[first : end + 1]
        assert await get_bytes(backend, bucket, "mp", ByteRange(None, 10)) == whole[-10:]

    async def test_parts_of_any_size(self, backend: Backend, bucket: str) -> None:
        sizes = [PART + 1, PART + 65_537, PART, 3]
        datas = [pattern(size, 20 + n) for n, size in enumerate(sizes)]
        upload = await backend.create_multipart_upload(bucket, "odd", ObjectMeta())
        done = []
        for n, data in enumerate(datas, start=1):
            part = await backend.upload_part(bucket, "odd", upload, n, ChunkedBody(data, 100_003))
            done.append(CompletedPart(n, part.etag))
        info = await backend.complete_multipart_upload(bucket, "odd", upload, done)
        whole = b"".join(datas)
        assert (info.size, info.etag) == (len(whole), multipart_etag(datas))
        head = await backend.head_object(bucket, "odd")
        listed = (await backend.list_objects(bucket)).objects
        assert (head.size, head.etag) == (len(whole), info.etag)
        assert [(o.size, o.etag) for o in listed] == [(len(whole), info.etag)]
        assert await get_bytes(backend, bucket, "odd") == whole
        edges = [0, sizes[0], sizes[0] + sizes[1], len(whole) - 3]
        for first, last in [(e - 1, e) for e in edges[1:]] + [
            (5, len(whole) - 2),
            (edges[1] - 70_000, edges[2] + 3),
        ]:
            assert await get_bytes(backend, bucket, "odd", ByteRange(first, last)) == whole[first : last + 1]
        found = await backend.object_parts(bucket, "odd")
        assert found is not None and found[0] == info.etag
        assert [(p.part_number, p.size) for p in found[1]] == [(n, s) for n, s in enumerate(sizes, start=1)]

    async def test_cold_listing_reads_what_head_shows(self, backend: Backend, bucket: str) -> None:
        """Another gateway process (an empty cache) lists the same ETags and sizes as HEAD answers."""
        assert isinstance(backend, Encrypt)
        await put_bytes(backend, bucket, "a", pattern(70_000, 1))
        upload = await backend.create_multipart_upload(bucket, "b", ObjectMeta())
        parts = [
            await backend.upload_part(bucket, "b", upload, n, ChunkedBody(pattern(PART + n, n)))
            for n in (1, 2)
        ]
        await backend.complete_multipart_upload(
            bucket, "b", upload, [CompletedPart(p.part_number, p.etag) for p in parts]
        )
        with using(SseRequest(write_key=CustomerKey.of(bytes(32)))):
            await put_bytes(backend, bucket, "c", b"customer's")
        other = Encrypt(backend.inner, backend.keyring, name="cold")
        listed = [(o.key, o.size, o.etag) for o in (await other.list_objects(bucket)).objects]
        cold = Encrypt(backend.inner, backend.keyring, name="cold-head")
        heads = [
            (k, (await cold.head_object(bucket, k)).size, (await cold.head_object(bucket, k)).etag)
            for k in "ab"
        ]
        assert listed[:2] == heads
        assert heads[0][2] == hashlib.md5(pattern(70_000, 1)).hexdigest()
        assert heads[1][1:] == (2 * PART + 3, multipart_etag([pattern(PART + 1, 1), pattern(PART + 2, 2)]))
        stored = await backend.inner.head_object(bucket, "c")
        assert listed[2] == ("c", 10, stored.etag)  # SSE-C: the store's ETag, not the plaintext's MD5

    async def test_if_match_compares_the_etag_clients_see(self, backend: Backend, bucket: str) -> None:
        if "if_match" not in getattr(self, "conditional_writes", {"if_match"}):
            pytest.skip("the store decides no If-Match")
        assert isinstance(backend, Encrypt)
        first = await put_bytes(backend, bucket, "doc", b"v1")
        stored = await backend.inner.head_object(bucket, "doc")
        assert stored.etag != first.etag
        with pytest.raises(be.PreconditionFailed):  # the store's ETag is not one a client ever saw
            await backend.put_object(
                bucket, "doc", ChunkedBody(b"x"), ObjectMeta(), WriteCondition(if_match=stored.etag)
            )
        with pytest.raises(be.PreconditionFailed):
            await backend.copy_object(
                bucket, "doc", bucket, "doc", ObjectMeta(), WriteCondition(if_match=stored.etag)
            )
        copied = await backend.copy_object(
            bucket, "doc", bucket, "doc", ObjectMeta(), WriteCondition(if_match=first.etag)
        )
        assert copied.etag == first.etag == (await backend.head_object(bucket, "doc")).etag

    async def test_tampered_multipart_is_an_error(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        datas = [pattern(PART + 1, 5), pattern(1000, 6)]
        upload = await backend.create_multipart_upload(bucket, "tm", ObjectMeta())
        parts = [
            await backend.upload_part(bucket, "tm", upload, n, ChunkedBody(d)) for n, d in enumerate(datas, 1)
        ]
        await backend.complete_multipart_upload(
            bucket, "tm", upload, [CompletedPart(p.part_number, p.etag) for p in parts]
        )
        raw = await self._raw(backend, bucket, "tm")
        stored_meta = (await backend.inner.head_object(bucket, "tm")).meta
        first = sealed.stored_size(len(datas[0]))
        flipped = bytearray(raw)
        flipped[first - sealed.TRAILER - 5] ^= 1  # the first part's last package
        trailer = bytearray(raw)
        trailer[-3] ^= 1  # the last trailer's sealed MD5
        for bad in (bytes(flipped), bytes(trailer), raw[first:], raw[:first]):
            await backend.inner.put_object(bucket, "tm", ChunkedBody(bad), stored_meta)
            fresh = Encrypt(backend.inner, backend.keyring, name="fresh")
            for reader in (backend, fresh):
                served = b""
                with pytest.raises(be.IntegrityError):
                    got = await reader.get_object(
                        bucket, "tm", ByteRange(len(datas[0]) - 10, len(datas[0]) + 10)
                    )
                    async for chunk in got.body:
                        served += chunk
                    got = await reader.get_object(bucket, "tm")
                    async for chunk in got.body:
                        served += chunk
                assert datas[0][-10:] not in served

    async def test_objects_stored_before_the_layer_are_served_as_they_are(
        self, backend: Backend, bucket: str
    ) -> None:
        assert isinstance(backend, Encrypt)
        small, large = b"tiny", pattern(300_000, 41)
        for key, data in (("old-small", small), ("old-large", large)):
            await backend.inner.put_object(bucket, key, ChunkedBody(data), ObjectMeta())
        for reader in (backend, Encrypt(backend.inner, backend.keyring, name="cold")):
            listed = {o.key: (o.size, o.etag) for o in (await reader.list_objects(bucket)).objects}
            for key, data in (("old-small", small), ("old-large", large)):
                md5 = hashlib.md5(data).hexdigest()
                assert listed[key] == (len(data), md5)
                head = await reader.head_object(bucket, key)
                assert (head.size, head.etag, head.meta.encryption) == (len(data), md5, None)
                assert await get_bytes(reader, bucket, key) == data
            assert await get_bytes(reader, bucket, "old-large", ByteRange(5, 9)) == large[5:10]

    async def test_one_part_upload_copies_and_rotates(self, backend: Backend, bucket: str) -> None:
        """A multipart object of one part is not a PutObject's: copied and rotated, it stays readable."""
        assert isinstance(backend, Encrypt)
        data = pattern(70_000, 51)
        upload = await backend.create_multipart_upload(bucket, "one", ObjectMeta())
        part = await backend.upload_part(bucket, "one", upload, 1, ChunkedBody(data))
        done = await backend.complete_multipart_upload(bucket, "one", upload, [CompletedPart(1, part.etag)])
        assert done.etag == multipart_etag([data])
        for meta in (None, ObjectMeta(user={"new": "meta"})):
            copied = await backend.copy_object(bucket, "one", bucket, "copy", meta)
            assert await get_bytes(backend, bucket, "copy") == data
            assert (await backend.head_object(bucket, "copy")).etag == copied.etag
        new = Keyring("test-3", {**backend.keyring.keys, "test-3": os.urandom(32)})
        report = await rotate(Encrypt(backend.inner, new, name="rotated"), [bucket])
        assert report.failed == [] and report.resealed == 1
        fresh = Encrypt(backend.inner, new, name="fresh")
        for key in ("one", "copy"):
            assert await get_bytes(fresh, bucket, key) == data

    async def test_large_bodies_cross_batches(self, backend: Backend, bucket: str) -> None:
        """Bodies larger than a crypto batch: sealed and opened in worker threads, in order; a body that
        fails midway stores nothing; a read abandoned midway ends cleanly."""
        size = 3 * BATCH + 12_345
        data = pattern(size, 31)
        put = await backend.put_object(bucket, "big", ChunkedBody(data, 99_991), ObjectMeta())
        assert put.etag == hashlib.md5(data).hexdigest()
        assert await get_bytes(backend, bucket, "big") == data
        first, last = BATCH - 3, 2 * BATCH + 70_000
        assert await get_bytes(backend, bucket, "big", ByteRange(first, last)) == data[first : last + 1]
        with pytest.raises(BodyFailed):
            await backend.put_object(bucket, "failed", FailingBody(data, 2 * BATCH + 5), ObjectMeta())
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "failed")
        got = await backend.get_object(bucket, "big")
        stream = got.body.__aiter__()
        assert data.startswith(await stream.__anext__())
        await stream.aclose()  # type: ignore[attr-defined]
        assert await get_bytes(backend, bucket, "big") == data

    async def test_upload_part_copy_reencrypts(self, backend: Backend, bucket: str) -> None:
        source = pattern(PART + 100, 7)
        await put_bytes(backend, bucket, "src", source)
        upload = await backend.create_multipart_upload(bucket, "dst", ObjectMeta())
        p1 = await backend.upload_part_copy(bucket, "dst", upload, 1, bucket, "src", (0, PART - 1))
        p2 = await backend.upload_part_copy(bucket, "dst", upload, 2, bucket, "src", (PART, PART + 99))
        assert (p1.size, p2.size) == (PART, 100)
        await backend.complete_multipart_upload(
            bucket, "dst", upload, [CompletedPart(1, p1.etag), CompletedPart(2, p2.etag)]
        )
        assert await get_bytes(backend, bucket, "dst") == source

    async def test_listed_upload_ids_abort(self, backend: Backend, bucket: str) -> None:
        upload = await backend.create_multipart_upload(bucket, "u", ObjectMeta())
        await backend.upload_part(bucket, "u", upload, 1, ChunkedBody(b"x"))
        listed = (await backend.list_multipart_uploads(bucket)).uploads
        assert [u.key for u in listed] == ["u"] and upload.startswith(listed[0].upload_id)
        assert [p.size for p in (await backend.list_parts(bucket, "u", listed[0].upload_id)).parts] == [1]
        await backend.abort_multipart_upload(bucket, "u", listed[0].upload_id)
        assert (await backend.list_multipart_uploads(bucket)).uploads == []

    async def test_tampering_at_rest_is_an_error(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        data = pattern(3 * sealed.PACKAGE + 10, 9)
        await put_bytes(backend, bucket, "t", data)
        raw = await self._raw(backend, bucket, "t")
        stored_meta = (await backend.inner.head_object(bucket, "t")).meta
        step = sealed.PACKAGE + sealed.TAG
        flipped = bytearray(raw)
        flipped[sealed.HEADER + step + 7] ^= 0x01
        swapped = raw[: sealed.HEADER] + raw[sealed.HEADER + step : sealed.HEADER + 2 * step]
        swapped += raw[sealed.HEADER : sealed.HEADER + step] + raw[sealed.HEADER + 2 * step :]
        for bad in (bytes(flipped), swapped, raw[: sealed.HEADER + 2 * step], raw[:-7]):
            await backend.inner.put_object(bucket, "t", ChunkedBody(bad), stored_meta)
            served = b""
            with pytest.raises(be.IntegrityError):
                got = await backend.get_object(bucket, "t")
                async for chunk in got.body:
                    served += chunk
            assert data[sealed.PACKAGE : 2 * sealed.PACKAGE] not in served

    async def test_sse_c(self, backend: Backend, bucket: str) -> None:
        key, wrong = CustomerKey.of(os.urandom(32)), CustomerKey.of(os.urandom(32))
        data = pattern(200_000, 4)
        with using(SseRequest(write_key=key)):
            put = await put_bytes(backend, bucket, "c", data)
        assert put.meta.encryption is not None and put.meta.encryption.customer_key_md5 == key.md5
        for attempt in (backend.head_object(bucket, "c"), backend.get_object(bucket, "c")):
            with pytest.raises(be.InvalidRequest):
                await attempt
        with using(SseRequest(read_key=wrong)), pytest.raises(be.AccessDenied):
            await backend.get_object(bucket, "c")
        with using(SseRequest(read_key=key)):
            head = await backend.head_object(bucket, "c")
            assert head.meta.encryption is not None and head.meta.encryption.customer_key_md5 == key.md5
            assert await get_bytes(backend, bucket, "c") == data
            assert await get_bytes(backend, bucket, "c", ByteRange(70_000, 140_000)) == data[70_000:140_001]
        with using(SseRequest(read_key=key, secure=False)), pytest.raises(be.InvalidRequest):
            await backend.get_object(bucket, "c")
        with using(SseRequest(read_key=key)):  # copy to SSE-S3: decrypted with the source key
            await backend.copy_object(bucket, "c", bucket, "plain", None)
        assert await get_bytes(backend, bucket, "plain") == data
        with using(SseRequest(read_key=key)), pytest.raises(be.InvalidRequest):
            await backend.get_object(bucket, "plain")  # SSE-C parameters on an SSE-S3 object

    async def test_sse_c_multipart_needs_the_key_on_each_part(self, backend: Backend, bucket: str) -> None:
        key, wrong = CustomerKey.of(os.urandom(32)), CustomerKey.of(os.urandom(32))
        with using(SseRequest(write_key=key)):
            upload = await backend.create_multipart_upload(bucket, "cm", ObjectMeta())
        with pytest.raises(be.InvalidRequest):
            await backend.upload_part(bucket, "cm", upload, 1, ChunkedBody(b"x"))
        with using(SseRequest(write_key=wrong)), pytest.raises(be.AccessDenied):
            await backend.upload_part(bucket, "cm", upload, 1, ChunkedBody(b"x"))
        with using(SseRequest(write_key=key)):
            part = await backend.upload_part(bucket, "cm", upload, 1, ChunkedBody(b"secret part"))
            await backend.complete_multipart_upload(bucket, "cm", upload, [CompletedPart(1, part.etag)])
        with using(SseRequest(read_key=key)):
            assert await get_bytes(backend, bucket, "cm") == b"secret part"
