"""Data-key wrapping and the master keyring, alone."""

from __future__ import annotations

import base64
import os

import pytest

from backends.composite import keys
from backends.composite.keys import Keyring, WrongKey


def test_wrap_round_trip_and_wrong_key() -> None:
    kek, data_key = os.urandom(32), keys.new_data_key()
    wrapped = keys.wrap(kek, data_key, keys.MODE_C)
    assert keys.unwrap(kek, wrapped, keys.MODE_C) == data_key
    assert data_key not in base64.b64decode(wrapped)
    with pytest.raises(WrongKey):
        keys.unwrap(os.urandom(32), wrapped, keys.MODE_C)
    with pytest.raises(WrongKey):  # a customer wrap is not a master-key wrap
        keys.unwrap(kek, wrapped, keys.MODE_S3)
    with pytest.raises(WrongKey):
        keys.unwrap(kek, "not base64!", keys.MODE_C)


def test_keyring_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = Keyring("k1", {"k1": old})
    kid, wrapped = before.wrap(b"d" * 32)
    after = Keyring("k2", {"k1": old, "k2": new})
    assert after.unwrap(kid, wrapped) == b"d" * 32
    assert after.wrap(b"d" * 32)[0] == "k2"
    with pytest.raises(WrongKey):
        Keyring("k2", {"k2": new}).unwrap(kid, wrapped)
    with pytest.raises(WrongKey):  # the id is bound into the wrap
        Keyring("k2", {"k2": old}).unwrap("k2", wrapped)
    with pytest.raises(ValueError):
        Keyring("k3", {"k1": old})


@pytest.mark.parametrize("text", ["ab" * 32, base64.b64encode(b"k" * 32).decode()])
def test_parse_key(text: str) -> None:
    assert len(keys.parse_key(text)) == 32


@pytest.mark.parametrize("text", ["ab" * 31, base64.b64encode(b"k" * 16).decode(), "zz" * 32, ""])
def test_parse_key_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        keys.parse_key(text)
