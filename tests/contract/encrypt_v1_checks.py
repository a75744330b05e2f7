"""Objects the previous release sealed (format ``s3b\\x01``, no trailers) on every store: still read.

Written by that release's sealer (``tests/helpers/sealv1.py``, checked byte for byte against it), straight
to the inner store with the metadata that release kept; read through the layer warm (the writer's
process) and cold (a fresh layer: an empty manifest cache). Their ETag is the store's, as that release
answered. Bytes that are neither format, under the layer's metadata, are an IntegrityError, never
anything else.
"""

from __future__ import annotations

import os

import pytest

from backends import errors as be
from backends.base import Backend, ByteRange, ObjectMeta
from backends.composite import sealed
from backends.composite.encrypt import Encrypt
from backends.composite.keys import Keyring
from backends.composite.rotate import rotate
from backends.sse import CustomerKey, SseRequest, using
from tests.helpers.bodies import ChunkedBody, MiB, get_bytes, pattern, read_all
from tests.helpers.sealv1 import multipart_v1, put_v1

PART = 5 * MiB


def _readers(backend: Encrypt) -> list[Encrypt]:
    return [backend, Encrypt(backend.inner, backend.keyring, name="cold")]


class V1FormatChecks:
    async def test_v1_objects_read(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        single, empty = pattern(3 * sealed.PACKAGE + 17, 61), b""
        parts = [pattern(PART, 62), pattern(PART + sealed.PACKAGE, 63), pattern(1000, 64)]
        whole = b"".join(parts)
        stored = {
            "v1-single": await put_v1(backend, bucket, "v1-single", single),
            "v1-empty": await put_v1(backend, bucket, "v1-empty", empty),
            "v1-multi": await multipart_v1(backend, bucket, "v1-multi", parts),
        }
        datas = {"v1-single": single, "v1-empty": empty, "v1-multi": whole}
        for reader in _readers(backend):
            listed = {o.key: (o.size, o.etag) for o in (await reader.list_objects(bucket)).objects}
            assert listed == {k: (len(d), stored[k].etag) for k, d in datas.items()}
            for key, data in datas.items():
                head = await reader.head_object(bucket, key)
                assert (head.size, head.etag) == (len(data), stored[key].etag)
                assert head.meta.encryption is not None and not any(
                    k.startswith("s3bridge-sse") for k in head.meta.user
                )
                got = await reader.get_object(bucket, key)
                assert (got.info.size, got.info.etag) == (len(data), stored[key].etag)
                assert await read_all(got) == data
            for first, last in [(0, 0), (sealed.PACKAGE - 1, sealed.PACKAGE), (5, len(single) - 2)]:
                assert (
                    await get_bytes(reader, bucket, "v1-single", ByteRange(first, last))
                    == single[first : last + 1]
                )
            edge = PART + len(parts[1])
            for first, last in [(PART - 1, PART), (PART - 5, edge + 5), (edge, edge), (len(whole) - 1, None)]:
                end = len(whole) - 1 if last is None else last
                assert (
                    await get_bytes(reader, bucket, "v1-multi", ByteRange(first, last))
                    == whole[first : end + 1]
                )
            found = await reader.object_parts(bucket, "v1-multi")
            assert found is not None and [p.size for p in found[1]] == [len(p) for p in parts]

    async def test_v1_copies_and_sse_c(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        single, parts = pattern(200_000, 71), [pattern(PART, 72), pattern(3, 73)]
        await put_v1(backend, bucket, "v1-single", single)
        await multipart_v1(backend, bucket, "v1-multi", parts)
        customer = CustomerKey.of(os.urandom(32))
        await put_v1(backend, bucket, "v1-c", b"customer's v1", customer)
        for reader in _readers(backend):
            for src, data in (("v1-single", single), ("v1-multi", b"".join(parts))):
                for meta in (None, ObjectMeta(user={"new": "meta"})):
                    copied = await reader.copy_object(bucket, src, bucket, f"copy-{src}", meta)
                    assert await get_bytes(reader, bucket, f"copy-{src}") == data
                    head = await reader.head_object(bucket, f"copy-{src}")
                    assert (head.etag, head.size) == (copied.etag, len(data))
            with pytest.raises(be.InvalidRequest):
                await reader.get_object(bucket, "v1-c")
            with using(SseRequest(read_key=CustomerKey.of(os.urandom(32)))), pytest.raises(be.AccessDenied):
                await reader.get_object(bucket, "v1-c")
            with using(SseRequest(read_key=customer)):
                assert await get_bytes(reader, bucket, "v1-c") == b"customer's v1"
                assert await get_bytes(reader, bucket, "v1-c", ByteRange(2, 5)) == b"stom"
            listed = {o.key: o.size for o in (await reader.list_objects(bucket)).objects}
            assert listed["v1-c"] == len(b"customer's v1")

    async def test_v1_rotates(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        single, parts = pattern(100_000, 81), [pattern(PART, 82), pattern(10, 83)]
        first = await put_v1(backend, bucket, "v1-single", single)
        await multipart_v1(backend, bucket, "v1-multi", parts)
        new = Keyring("test-v1", {**backend.keyring.keys, "test-v1": os.urandom(32)})
        report = await rotate(Encrypt(backend.inner, new, name="rotated"), [bucket])
        assert (report.rewrapped, report.resealed, report.failed) == (1, 1, [])
        only_new = Encrypt(backend.inner, Keyring("test-v1", {"test-v1": new.keys["test-v1"]}), name="new")
        assert await get_bytes(only_new, bucket, "v1-single") == single
        assert (await only_new.head_object(bucket, "v1-single")).etag == first.etag  # bytes unmoved
        assert await get_bytes(only_new, bucket, "v1-multi") == b"".join(parts)

    async def test_v1_tampering_is_an_error(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        single = pattern(3 * sealed.PACKAGE + 10, 91)
        await put_v1(backend, bucket, "t", single)
        raw = await read_all(await backend.inner.get_object(bucket, "t"))
        stored_meta = (await backend.inner.head_object(bucket, "t")).meta
        step = sealed.PACKAGE + sealed.TAG
        flipped = bytearray(raw)
        flipped[sealed.HEADER + step + 7] ^= 1
        length = bytearray(raw)
        length[15] ^= 1  # the header's length: no longer the stored size, nor bound into the packages
        for bad in (bytes(flipped), bytes(length), raw[: sealed.HEADER + 2 * step], raw[:-7]):
            await backend.inner.put_object(bucket, "t", ChunkedBody(bad), stored_meta)
            for reader in _readers(backend):
                served = b""
                with pytest.raises(be.IntegrityError):
                    got = await reader.get_object(bucket, "t", ByteRange(step - 5, step + 5))
                    served += await read_all(got)
                    got = await reader.get_object(bucket, "t")
                    served += await read_all(got)
                assert single[sealed.PACKAGE : sealed.PACKAGE + 100] not in served

    async def test_neither_format_is_an_integrity_error(self, backend: Backend, bucket: str) -> None:
        """Bytes under this layer's metadata that are no sealed format: IntegrityError on every read."""
        assert isinstance(backend, Encrypt)
        await backend.put_object(bucket, "good", ChunkedBody(b"x"), ObjectMeta())
        stored_meta = (await backend.inner.head_object(bucket, "good")).meta
        for n, junk in enumerate(
            (b"", b"s3b\x01", os.urandom(40), os.urandom(300_000), b"s3b\x03" + bytes(200))
        ):
            await backend.inner.put_object(bucket, f"junk{n}", ChunkedBody(junk), stored_meta)
            for reader in _readers(backend):
                key = f"junk{n}"
                for attempt in (
                    reader.head_object(bucket, key),
                    reader.get_object(bucket, key),
                    reader.get_object(bucket, key, ByteRange(0, 0)),
                    reader.copy_object(bucket, key, bucket, "dst", None),
                ):
                    with pytest.raises(be.IntegrityError):
                        await attempt
        listed = {o.key for o in (await backend.list_objects(bucket)).objects}
        assert {"good", "junk0", "junk4"} <= listed
