"""The previous release's writer of encrypted objects (stored format ``s3b\\x01``), kept for tests only.

``Sealer`` is the v1 sealer of that release (commit 47bbb6a, ``backends/composite/sealed.py``) as it was;
``tests/unit/test_sealed_v1.py`` checks it seals byte for byte as that commit's module does. The writers
below store objects as that release's encrypt layer did: the sealed bytes, and the wrapped data key in
hidden metadata (the key wrapping did not change), a multipart upload one v1 segment per part, every
part but the last a whole number of 64 KiB packages. Nothing in the gateway writes v1 any more; these
make the objects the v1 reader must still open.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backends.base import CompletedPart, ObjectInfo, ObjectMeta
from backends.composite.encrypt import Encrypt
from backends.sse import CustomerKey
from tests.helpers.bodies import ChunkedBody

PACKAGE = 64 * 1024
_HEADER = struct.Struct(">4sIQ12s4x")
_AAD_TAIL = struct.Struct(">QB")


class Sealer:
    """Seals one v1 segment: header, then packages (each AES-256-GCM with its index and final flag in
    the additional data after the header); no trailer."""

    def __init__(self, key: bytes, part: int, length: int, nonce_base: bytes):
        self._aead = AESGCM(key)
        self._raw = _HEADER.pack(b"s3b\x01", part, length, nonce_base)
        self._base = int.from_bytes(nonce_base, "big")
        self._length = length
        self._packages = max(1, -(-length // PACKAGE))

    def seal(self, data: bytes) -> bytes:
        """The whole segment (test bodies are small enough to seal at once)."""
        assert len(data) == self._length
        out = [self._raw]
        for i in range(self._packages):
            nonce = (self._base ^ i).to_bytes(12, "big")
            aad = self._raw + _AAD_TAIL.pack(i, i == self._packages - 1)
            out.append(self._aead.encrypt(nonce, data[i * PACKAGE : (i + 1) * PACKAGE], aad))
        return b"".join(out)


def _hidden(enc: Encrypt, customer: CustomerKey | None) -> tuple[bytes, dict[str, str]]:
    return enc._new_key(customer)  # the wrapping v1 used, unchanged


async def put_v1(
    enc: Encrypt, bucket: str, key: str, data: bytes, customer: CustomerKey | None = None
) -> ObjectInfo:
    """Store ``data`` as the previous release's PutObject did."""
    data_key, hidden = _hidden(enc, customer)
    body = Sealer(data_key, 0, len(data), os.urandom(12)).seal(data)
    return await enc.inner.put_object(bucket, key, ChunkedBody(body), ObjectMeta(user=hidden))


async def multipart_v1(
    enc: Encrypt, bucket: str, key: str, parts: list[bytes], customer: CustomerKey | None = None
) -> ObjectInfo:
    """Store ``parts`` as the previous release's multipart upload did (every part but the last a whole
    number of packages, as that release required)."""
    assert all(len(p) % PACKAGE == 0 for p in parts[:-1])
    data_key, hidden = _hidden(enc, customer)
    upload = await enc.inner.create_multipart_upload(bucket, key, ObjectMeta(user=hidden))
    done = []
    for n, data in enumerate(parts, start=1):
        body = Sealer(data_key, n, len(data), os.urandom(12)).seal(data)
        part = await enc.inner.upload_part(bucket, key, upload, n, ChunkedBody(body))
        done.append(CompletedPart(n, part.etag))
    return await enc.inner.complete_multipart_upload(bucket, key, upload, done)
