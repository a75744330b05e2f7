"""The fs backend and a body that asks only for an ETag unique to its write (``AnyUniqueEtag``).

The encrypt layer's sealed bodies ask it: the store's ETag of sealed bytes is only their identity to that
layer. fs then skips its MD5 pass over every byte and names the write with random hex of an MD5's shape;
every other body keeps the MD5 (S3's ETag of a plain object).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta, WriteCondition, any_unique_etag
from backends.composite import retry
from backends.composite.encrypt import Encrypt
from backends.composite.keys import Keyring
from backends.composite.sealedstreams import SealedBody
from backends.composite.streams import TrackedBody
from backends.fs import format as fs_format
from backends.fs.backend import FsBackend
from tests.helpers.bodies import ChunkedBody, MiB, get_bytes, pattern, started

pytestmark = pytest.mark.anyio

HEX32 = re.compile(r"[0-9a-f]{32}")


class UniqueEtagBody(ChunkedBody):
    """A ChunkedBody whose writer wants an identity for its ETag, not a digest."""

    any_unique_etag = True


@pytest.fixture
async def fs(tmp_path: Path) -> AsyncIterator[FsBackend]:
    backend = FsBackend(tmp_path / "root", name="fs-unique-etag")
    async for running in started(backend):
        await running.create_bucket("b")
        yield backend


@pytest.fixture
def md5_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the MD5 hashers the fs object format makes (each one a pass over the bytes it is fed)."""
    made: list[int] = []
    real: Callable[..., Any] = hashlib.md5

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fs_format, "hashlib", SimpleNamespace(md5=counting))
    return made


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def test_a_plain_body_keeps_the_md5(fs: FsBackend, md5_calls: list[int]) -> None:
    data = pattern(MiB + 3)
    info = await fs.put_object("b", "k", ChunkedBody(data), ObjectMeta())
    assert info.etag == md5(data)
    assert (await fs.head_object("b", "k")).etag == md5(data)
    assert md5_calls == [1]


async def test_a_unique_etag_body_gets_no_md5_and_a_fresh_etag(fs: FsBackend, md5_calls: list[int]) -> None:
    data = pattern(MiB + 3)
    first = await fs.put_object("b", "k", UniqueEtagBody(data), ObjectMeta())
    assert md5_calls == []
    assert HEX32.fullmatch(first.etag) and first.etag != md5(data)
    head = await fs.head_object("b", "k")
    assert head.etag == first.etag
    assert [(o.key, o.etag) for o in (await fs.list_objects("b")).objects] == [("k", first.etag)]
    assert await get_bytes(fs, "b", "k") == data
    again = await fs.put_object("b", "k", UniqueEtagBody(data), ObjectMeta())  # the same bytes again
    assert HEX32.fullmatch(again.etag) and again.etag not in (first.etag, md5(data))


async def test_a_unique_etag_is_the_token_of_conditional_writes(fs: FsBackend) -> None:
    first = await fs.put_object("b", "k", UniqueEtagBody(b"one"), ObjectMeta())
    with pytest.raises(be.PreconditionFailed):
        await fs.put_object(
            "b", "k", UniqueEtagBody(b"two"), ObjectMeta(), WriteCondition(if_match=md5(b"one"))
        )
    second = await fs.put_object(
        "b", "k", UniqueEtagBody(b"two"), ObjectMeta(), WriteCondition(if_match=first.etag)
    )
    with pytest.raises(be.PreconditionFailed):
        await fs.put_object("b", "k", UniqueEtagBody(b"3"), ObjectMeta(), WriteCondition(if_match=first.etag))
    assert (await fs.head_object("b", "k")).etag == second.etag


async def test_unique_etag_parts_complete_into_a_multipart_etag(fs: FsBackend, md5_calls: list[int]) -> None:
    one, two = pattern(5 * MiB, seed=1), b"tail"
    upload = await fs.create_multipart_upload("b", "k", ObjectMeta())
    got = [await fs.upload_part("b", "k", upload, n, UniqueEtagBody(p)) for n, p in ((1, one), (2, two))]
    assert md5_calls == []
    assert all(HEX32.fullmatch(p.etag) for p in got)
    assert [p.etag for p in got] != [md5(one), md5(two)]
    with pytest.raises(be.InvalidPart):  # the MD5 of the bytes is not the part's ETag
        await fs.complete_multipart_upload(
            "b", "k", upload, [CompletedPart(1, md5(one)), CompletedPart(2, got[1].etag)]
        )
    parts = [CompletedPart(p.part_number, p.etag) for p in got]
    info = await fs.complete_multipart_upload("b", "k", upload, parts)
    # What a retry of Complete compares with to know that a completion it lost the answer of landed.
    assert info.etag == retry.multipart_etag(parts)
    assert info.etag.endswith("-2") and info.etag != retry.multipart_etag(
        [CompletedPart(1, md5(one)), CompletedPart(2, md5(two))]
    )
    assert await get_bytes(fs, "b", "k") == one + two


async def test_the_flag_goes_through_a_retry_and_comes_from_sealed_bodies() -> None:
    assert any_unique_etag(TrackedBody(UniqueEtagBody(b"x")))
    assert not any_unique_etag(TrackedBody(ChunkedBody(b"x")))
    assert not any_unique_etag(ChunkedBody(b"x"))
    assert any_unique_etag(SealedBody(ChunkedBody(b"x"), bytes(32), 0))


async def test_encrypt_over_fs_hashes_the_sealed_bytes_no_more(fs: FsBackend, md5_calls: list[int]) -> None:
    """Through the encrypt layer: fs names each sealed write uniquely without hashing it, while clients
    see the plaintext's MD5, and two writes of the same plaintext stay apart in the manifest cache."""
    enc = Encrypt(fs, Keyring("k", {"k": bytes(range(32))}))
    data = pattern(MiB + 5)
    shown = [await enc.put_object("b", key, ChunkedBody(data), ObjectMeta()) for key in ("k", "k2")]
    assert md5_calls == []
    assert [s.etag for s in shown] == [md5(data)] * 2
    stored = [await fs.head_object("b", key) for key in ("k", "k2")]
    sealed_bytes = await get_bytes(fs, "b", "k")
    assert stored[0].size == stored[1].size == len(sealed_bytes)
    assert HEX32.fullmatch(stored[0].etag) and stored[0].etag not in (stored[1].etag, md5(sealed_bytes))
    for key in ("k", "k2"):
        assert await get_bytes(enc, "b", key) == data
        assert (await enc.head_object("b", key)).etag == md5(data)
