"""Data keys and the keys that wrap them (pure code): what the encrypt composite stores in metadata.

Every object gets a random 256-bit data key. It is stored only wrapped (AES-256-GCM, random nonce) by a
key-encryption key: for SSE-S3 the gateway's master key, named by its key id in the object's metadata so
a rotated-out key still opens old objects; for SSE-C the customer's own key, which is never stored. The
GCM tag of the wrapped key is the check that a customer key is the right one: a wrong key fails to
unwrap before a single byte of the object is read, so no hash of the customer key is kept either.
The additional data binds the mode and key id, so an SSE-S3 wrap cannot be passed off as SSE-C.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE = 12

#: Object metadata the encrypt composite keeps on the inner store (hidden from clients).
META_PREFIX = "s3bridge-sse"
META_MODE = "s3bridge-sse"
META_WRAPPED = "s3bridge-sse-key"
META_KEY_ID = "s3bridge-sse-kid"

MODE_S3 = "S3"
MODE_C = "C"


class WrongKey(Exception):
    """The key-encryption key does not open this wrapped data key."""


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _context(mode: str, key_id: str) -> bytes:
    return f"s3bridge-sse/1|{mode}|{key_id}".encode()


def wrap(kek: bytes, data_key: bytes, mode: str, key_id: str = "") -> str:
    """The data key sealed under ``kek``, as base64 for a metadata value."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(kek).encrypt(nonce, data_key, _context(mode, key_id))
    return base64.b64encode(nonce + sealed).decode("ascii")


def unwrap(kek: bytes, wrapped: str, mode: str, key_id: str = "") -> bytes:
    """The data key; WrongKey when ``kek`` is not the key that wrapped it (or the value was altered)."""
    try:
        raw = base64.b64decode(wrapped, validate=True)
        data_key = AESGCM(kek).decrypt(raw[:_NONCE], raw[_NONCE:], _context(mode, key_id))
    except (InvalidTag, binascii.Error, ValueError):
        raise WrongKey("the key does not open this object's data key") from None
    if len(data_key) != KEY_BYTES:
        raise WrongKey("the wrapped data key has the wrong length")
    return data_key


def parse_key(text: str) -> bytes:
    """A 256-bit key written as 64 hex digits or as base64; ValueError otherwise."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("a key is 32 bytes written as 64 hex digits or as base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a key is 32 bytes, this one is {len(raw)}")
    return raw


@dataclass(frozen=True)
class Keyring:
    """The master keys by id: ``current`` wraps new data keys, every key opens what it wrapped."""

    current: str
    keys: dict[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"the current key id {self.current!r} has no key")

    def wrap(self, data_key: bytes) -> tuple[str, str]:
        """(key id, wrapped data key) under the current master key."""
        return self.current, wrap(self.keys[self.current], data_key, MODE_S3, self.current)

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        kek = self.keys.get(key_id)
        if kek is None:
            raise WrongKey(f"master key {key_id!r} is not configured")
        return unwrap(kek, wrapped, MODE_S3, key_id)
