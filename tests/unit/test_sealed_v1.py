"""The earlier stored format (``s3b\\x01``) read by ``sealedv1``: segments the previous release's sealer
wrote open whole and from any package, and tampering still fails; the test writer is that sealer."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from backends.composite import sealed, sealedv1
from backends.composite.sealed import HEADER, PACKAGE, TAG, SealError
from tests.helpers.sealv1 import Sealer

KEY = bytes(range(32))
SIZES = [0, 1, PACKAGE - 1, PACKAGE, PACKAGE + 1, 3 * PACKAGE + 17]
V1_COMMIT = "47bbb6a"


def seal(data: bytes, part: int = 0) -> tuple[sealedv1.Header, bytes]:
    nonce_base = os.urandom(12)
    return sealedv1.Header(part, len(data), nonce_base), Sealer(KEY, part, len(data), nonce_base).seal(data)


def open_with(opener: sealed.Opener, stored: bytes, chunk: int = 7_000, *, partial: bool = False) -> bytes:
    out = bytearray()
    for i in range(0, len(stored), chunk):
        out += opener.feed(stored[i : i + chunk])
    opener.finish(partial=partial)
    return bytes(out)


def flip(stored: bytes, at: int) -> bytes:
    """``stored`` with one bit of byte ``at`` changed."""
    out = bytearray(stored)
    out[at] ^= 1
    return bytes(out)


def released_v1(tmp_path: Path) -> ModuleType:
    """The v1 ``sealed`` module as released, from the repository's history (skipped without it)."""
    root = Path(__file__).resolve().parents[2]
    try:
        source = subprocess.run(
            ["git", "show", f"{V1_COMMIT}:backends/composite/sealed.py"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip(f"commit {V1_COMMIT} is not in this checkout's history")
    path = tmp_path / "sealed_v1_released.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("sealed_v1_released", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.parametrize("size", SIZES)
def test_the_test_writer_is_the_released_sealer(tmp_path: Path, size: int) -> None:
    old = released_v1(tmp_path)
    data, nonce_base = os.urandom(size), os.urandom(12)
    sealer = old.Sealer(KEY, old.Header(3, size, nonce_base))
    released = b"".join([*sealer.feed(data[:1000]), *sealer.feed(data[1000:]), *sealer.finish()])
    assert Sealer(KEY, 3, size, nonce_base).seal(data) == released
    assert sealedv1.stored_size(size) == len(released) == old.stored_size(size)


@pytest.mark.parametrize("size", SIZES)
def test_whole_and_from_every_package(size: int) -> None:
    data = os.urandom(size)
    header, stored = seal(data)
    assert header.stored_size == len(stored) and header.pack() == stored[:HEADER]
    for chunk in (1, 1000, 70_000, len(stored)):
        opener = sealedv1.opener(header, KEY)
        assert open_with(opener, stored, chunk) == data and opener.segments == 1
    for index in range(header.packages):
        start = sealed.package_offset(index)
        opener = sealedv1.opener(header, KEY, start=(header, index))
        assert open_with(opener, stored[start:], partial=True) == data[index * PACKAGE :]


def test_segments_in_a_row_and_their_order() -> None:
    one, two = os.urandom(2 * PACKAGE), os.urandom(5)
    (_, first), (_, second) = seal(one, 1), seal(two, 2)
    opener = sealedv1.Opener(KEY)
    assert open_with(opener, first + second) == one + two and opener.segments == 2
    with pytest.raises(SealError):
        open_with(sealedv1.Opener(KEY), second + first)


def test_tampering_fails() -> None:
    data = os.urandom(3 * PACKAGE + 10)
    header, stored = seal(data)
    step = PACKAGE + TAG
    flipped, length = flip(stored, HEADER + step + 7), flip(stored, 15)  # a package; the header's length
    swapped = stored[:HEADER] + stored[HEADER + step : HEADER + 2 * step] + stored[HEADER : HEADER + step]
    swapped += stored[HEADER + 2 * step :]
    for bad in (flipped, length, swapped, stored[: HEADER + 2 * step], stored[:-7]):
        with pytest.raises(SealError):
            open_with(sealedv1.Opener(KEY), bad)
    with pytest.raises(SealError):
        open_with(sealedv1.Opener(bytes(32)), stored)


def test_the_formats_do_not_open_each_other() -> None:
    data = os.urandom(100)
    _, v1 = seal(data)
    v2_header = sealed.Header(0, len(data), os.urandom(12))
    sealer = sealed.Sealer(KEY, v2_header)
    v2 = bytes(sealer.feed(data)) + bytes(sealer.finish())
    with pytest.raises(SealError):
        open_with(sealed.Opener(KEY), v1)
    with pytest.raises(SealError):
        open_with(sealedv1.Opener(KEY), v2)
    assert sealedv1.Header(0, 1, bytes(12)) != sealed.Header(0, 1, bytes(12))
    assert sealedv1.Header.magic_of(v1) and not sealedv1.Header.magic_of(v2)
