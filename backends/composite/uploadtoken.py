"""The upload id the encrypt composite hands out: the store's id and the upload's wrapped data key.

UploadPart has no other way to learn an upload's data key (a store keeps an upload's metadata but no
API returns it), so the key travels, wrapped and so unreadable to the client, in the id the client sends
back: ``<store id>~<mode>~<key id>~<wrapped key, base64url>``.
"""

from __future__ import annotations

import base64
import binascii
import re

from backends import errors as be
from backends.composite import keys

_TOKEN_PART = re.compile(r"^[A-Za-z0-9_.-]*$")
_MODES = (keys.MODE_S3, keys.MODE_C)


class UploadToken:
    """The upload id this layer hands out: the store's id and the upload's wrapped data key."""

    SEP = "~"

    def __init__(self, upload_id: str, mode: str, key_id: str, wrapped: str):
        self.upload_id, self.mode, self.key_id, self.wrapped = upload_id, mode, key_id, wrapped

    def encode(self) -> str:
        raw = base64.b64decode(self.wrapped)
        packed = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        return self.SEP.join((self.upload_id, self.mode, self.key_id, packed))

    @classmethod
    def decode(cls, value: str) -> UploadToken:
        fields = value.rsplit(cls.SEP, 3)
        if len(fields) != 4 or not all(_TOKEN_PART.match(f) for f in fields[1:]) or fields[1] not in _MODES:
            raise be.NoSuchUpload(detail="not an upload id of the encrypt layer")
        upload_id, mode, key_id, packed = fields
        try:
            raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        except (binascii.Error, ValueError):
            raise be.NoSuchUpload(detail="not an upload id of the encrypt layer") from None
        return cls(upload_id, mode, key_id, base64.b64encode(raw).decode("ascii"))

    @classmethod
    def inner_id(cls, value: str) -> str:
        """The store's id, from a full token or a bare id (as ListMultipartUploads shows it)."""
        fields = value.rsplit(cls.SEP, 3)
        return fields[0] if len(fields) == 4 else value
