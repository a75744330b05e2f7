"""The encrypt composite's configuration: the master key, older keys kept to open what they wrapped.

Kept apart from the layer itself so the settings model imports no crypto code path it does not need.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pydantic

from backends.composite import keys

_KEY_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class MasterKey(pydantic.BaseModel):
    """An older master key, kept so objects it wrapped still open (``s3bridge rotate-key`` rewraps them)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    id: str = pydantic.Field(pattern=_KEY_ID)
    #: 32 bytes as 64 hex digits or base64; use a ``${ENV}`` reference rather than the key itself.
    key: pydantic.SecretStr | None = None
    #: A file holding the key (hex or base64).
    key_file: Path | None = None

    def material(self) -> bytes:
        return _load_key(self.key, self.key_file, self.id)


def _load_key(key: pydantic.SecretStr | None, key_file: Path | None, key_id: str) -> bytes:
    if (key is None) == (key_file is None):
        raise ValueError(f"key {key_id!r} needs exactly one of key and key_file")
    try:
        text = key.get_secret_value() if key is not None else Path(key_file or "").read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the key file of key {key_id!r}: {exc.strerror}") from None
    try:
        return keys.parse_key(text)
    except ValueError as exc:
        raise ValueError(f"key {key_id!r}: {exc}") from None


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", title="encrypt backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("backend",)

    type: Literal["encrypt"]
    #: The backend whose objects this layer encrypts.
    backend: str
    #: Id of the master key that wraps new objects' data keys (stored with each object).
    key_id: str = pydantic.Field(pattern=_KEY_ID)
    #: The master key: 32 bytes as 64 hex digits or base64; use a ``${ENV}`` reference.
    master_key: pydantic.SecretStr | None = None
    #: A file holding the master key (hex or base64).
    master_key_file: Path | None = None
    #: Older master keys, which still open the objects they wrapped.
    old_keys: list[MasterKey] = pydantic.Field(default_factory=list)
    #: Accept SSE-C keys over plain http (S3 refuses them: the key crosses the network in clear).
    allow_sse_c_over_http: bool = False

    @pydantic.model_validator(mode="after")
    def _keys(self) -> Settings:
        self.keyring()
        ids = [self.key_id, *(k.id for k in self.old_keys)]
        if len(set(ids)) != len(ids):
            raise ValueError("key ids must be distinct")
        return self

    def keyring(self) -> keys.Keyring:
        ring = {k.id: k.material() for k in self.old_keys}
        ring[self.key_id] = _load_key(self.master_key, self.master_key_file, self.key_id)
        return keys.Keyring(self.key_id, ring)
