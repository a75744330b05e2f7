"""Uploads of unknown length through the encrypt layer (a browser form's file): sealed as they flow.

The store gets a body of unknown length too (the s3 and obs backends then put it in parts of their own,
so its store ETag may end in ``-N``); clients see the plaintext's size and MD5 ETag, warm and cold, whole
and ranged, and a cut still fails.
"""

from __future__ import annotations

import hashlib

import pytest

from backends import errors as be
from backends.base import Backend, ByteRange, ObjectMeta
from backends.composite import sealed
from backends.composite.encrypt import Encrypt
from tests.helpers.bodies import ChunkedBody, MiB, get_bytes, pattern, read_all


def unsized(data: bytes, chunk: int = 65_537) -> ChunkedBody:
    body = ChunkedBody(data, chunk)
    body.size = None
    return body


class UnsizedChecks:
    async def test_upload_of_unknown_length(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        datas = {
            "empty": b"",
            "one": pattern(sealed.PACKAGE, 1),
            "odd": pattern(3 * sealed.PACKAGE + 17, 2),
            "large": pattern(9 * MiB + 3, 3),  # above the s3 backend's part size: the store's multipart
        }
        for key, data in datas.items():
            put = await backend.put_object(bucket, key, unsized(data, 100_003), ObjectMeta(user={"k": key}))
            assert (put.size, put.etag) == (len(data), hashlib.md5(data).hexdigest())
            assert put.meta.encryption is not None
        raw = await read_all(await backend.inner.get_object(bucket, "odd"))
        assert datas["odd"][:4096] not in raw and len(raw) == sealed.stored_size(len(datas["odd"]))
        for reader in (backend, Encrypt(backend.inner, backend.keyring, name="cold")):
            listed = {o.key: (o.size, o.etag) for o in (await reader.list_objects(bucket)).objects}
            want = {k: (len(d), hashlib.md5(d).hexdigest()) for k, d in datas.items()}
            assert {k: listed[k] for k in datas} == want
            for key, data in datas.items():
                head = await reader.head_object(bucket, key)
                assert (head.size, head.meta.user) == (len(data), {"k": key})
                assert await get_bytes(reader, bucket, key) == data
            big = datas["large"]
            for first, last in [(0, 0), (sealed.PACKAGE - 1, sealed.PACKAGE), (5 * MiB - 3, len(big) - 1)]:
                assert (
                    await get_bytes(reader, bucket, "large", ByteRange(first, last)) == big[first : last + 1]
                )
            copied = await reader.copy_object(bucket, "odd", bucket, "copy", ObjectMeta())
            assert copied.etag == hashlib.md5(datas["odd"]).hexdigest()
            assert await get_bytes(reader, bucket, "copy") == datas["odd"]

    async def test_unknown_length_cut_is_an_error(self, backend: Backend, bucket: str) -> None:
        assert isinstance(backend, Encrypt)
        data = pattern(3 * sealed.PACKAGE + 17, 4)
        await backend.put_object(bucket, "cut", unsized(data), ObjectMeta())
        raw = await read_all(await backend.inner.get_object(bucket, "cut"))
        stored_meta = (await backend.inner.head_object(bucket, "cut")).meta
        step = sealed.PACKAGE + sealed.TAG
        trailer = raw[-sealed.TRAILER :]
        for bad in (raw[: sealed.HEADER + 2 * step] + trailer, raw[:-1], raw[: sealed.HEADER + step]):
            await backend.inner.put_object(bucket, "cut", ChunkedBody(bad), stored_meta)
            for reader in (backend, Encrypt(backend.inner, backend.keyring, name="cold")):
                with pytest.raises(be.IntegrityError):
                    await read_all(await reader.get_object(bucket, "cut"))

    async def test_forged_upload_ids_are_no_such_upload(self, backend: Backend, bucket: str) -> None:
        """An upload id this layer did not hand out is NoSuchUpload, whatever part of it was changed."""
        upload = await backend.create_multipart_upload(bucket, "f", ObjectMeta())
        store_id, mode, key_id, wrapped = upload.rsplit("~", 3)
        flipped = ("A" if wrapped[5] != "A" else "B").join((wrapped[:5], wrapped[6:]))
        for forged in (
            f"{store_id}~X~{key_id}~{wrapped}",
            f"{store_id}~{mode}~{key_id}~{flipped}",
            f"{store_id}~{mode}~unknown-key~{wrapped}",
        ):
            with pytest.raises(be.NoSuchUpload):
                await backend.upload_part(bucket, "f", forged, 1, ChunkedBody(b"x"))
        await backend.abort_multipart_upload(bucket, "f", upload)
