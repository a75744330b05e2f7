"""The router over real filesystem stores: prefixes in and out, bucket listing, copies across stores."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import errors as be
from backends.base import CompletedPart, ObjectMeta
from backends.composite.router import Router
from backends.fs.backend import FsBackend
from backends.served import served_by
from tests.helpers.bodies import ChunkedBody, GeneratedBody, MiB, get_bytes, md5_hex, pattern, put_bytes

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[dict[str, FsBackend]]:
    found = {n: FsBackend(tmp_path / n, name=n, fsync=False) for n in ("hot", "cold", "shared")}
    for store in found.values():
        await store.start()
    await found["shared"].create_bucket("pool")
    await found["cold"].create_bucket("archive-2023")
    await found["cold"].create_bucket("unrouted")
    yield found
    for store in found.values():
        await store.close()


@pytest.fixture
def router(stores: dict[str, FsBackend]) -> Router:
    routes = [
        {"bucket": "photos", "backend": "shared", "remote_bucket": "pool", "prefix": "photos/"},
        {"bucket": "docs", "backend": "shared", "remote_bucket": "pool", "prefix": "docs/"},
        {"bucket": "ghost", "backend": "shared", "remote_bucket": "missing-remote"},
        {"bucket": "archive-*", "backend": "cold"},
    ]
    return Router.from_routes(routes, stores.__getitem__, default="hot")


async def test_prefix_is_added_and_stripped(router: Router, stores: dict[str, FsBackend]) -> None:
    for key in ("a/1", "a/2", "a/b/3", "z"):
        info = await put_bytes(router, "photos", key, key.encode())
        assert info.key == key
    await put_bytes(router, "docs", "a/1", b"doc")
    assert served_by.get() == "shared"
    raw = [o.key for o in (await stores["shared"].list_objects("pool")).objects]
    assert raw == ["docs/a/1", "photos/a/1", "photos/a/2", "photos/a/b/3", "photos/z"]
    page = await router.list_objects("photos", prefix="a/", delimiter="/", max_keys=1)
    assert ([o.key for o in page.objects], page.common_prefixes, page.next_marker) == (["a/1"], [], "a/1")
    page = await router.list_objects("photos", prefix="a/", delimiter="/", start_after="a/1")
    assert ([o.key for o in page.objects], page.common_prefixes) == (["a/2"], ["a/b/"])
    page = await router.list_objects("photos", delimiter="/")
    assert ([o.key for o in page.objects], page.common_prefixes) == (["z"], ["a/"])
    assert (await router.head_object("photos", "a/b/3")).key == "a/b/3"
    got = await router.get_object("docs", "a/1")
    assert got.info.key == "a/1"
    await got.body.aclose()  # type: ignore[attr-defined]
    await router.delete_object("photos", "z")
    with pytest.raises(be.NoSuchKey):
        await stores["shared"].head_object("pool", "photos/z")


async def test_views_never_delete_or_create_the_remote_bucket(
    router: Router, stores: dict[str, FsBackend]
) -> None:
    """A prefix route is a view of a shared remote bucket: DeleteBucket on it, empty or not, leaves
    the remote bucket and every other view's keys in place; CreateBucket never makes the remote one."""
    await put_bytes(router, "docs", "kept", b"doc")
    with pytest.raises(be.MethodNotAllowed):  # photos/ holds nothing, docs/ does
        await router.delete_bucket("photos")
    with pytest.raises(be.MethodNotAllowed):
        await router.delete_bucket("docs")
    assert (await stores["shared"].head_bucket("pool")).name == "pool"
    assert await get_bytes(router, "docs", "kept") == b"doc"
    assert (await router.head_bucket("photos")).name == "photos"
    assert {"docs", "photos"} <= {b.name for b in await router.list_buckets()}
    with pytest.raises(be.BucketAlreadyOwnedByYou):  # the view exists while its remote bucket does
        await router.create_bucket("photos")
    with pytest.raises(be.NoSuchBucket):
        await router.delete_bucket("ghost")


async def test_shared_remote_without_prefix_is_a_view(stores: dict[str, FsBackend]) -> None:
    routes = [
        {"bucket": "a", "backend": "shared", "remote_bucket": "pool"},
        {"bucket": "b", "backend": "shared", "remote_bucket": "pool"},
        {"bucket": "tenant-*", "backend": "shared", "remote_bucket": "tenants"},
        {"bucket": "renamed", "backend": "cold", "remote_bucket": "real-name"},
    ]
    router = Router.from_routes(routes, stores.__getitem__)
    for bucket in ("a", "b"):
        with pytest.raises(be.MethodNotAllowed):
            await router.delete_bucket(bucket)
    assert (await stores["shared"].head_bucket("pool")).name == "pool"
    with pytest.raises(be.MethodNotAllowed):  # the operator creates a bucket every tenant shares
        await router.create_bucket("tenant-x")
    with pytest.raises(be.NoSuchBucket):
        await stores["shared"].head_bucket("tenants")
    await router.create_bucket("renamed")  # one client bucket, one remote bucket: the client's to manage
    assert (await stores["cold"].head_bucket("real-name")).name == "real-name"
    await router.delete_bucket("renamed")
    with pytest.raises(be.NoSuchBucket):
        await stores["cold"].head_bucket("real-name")


async def test_list_buckets_merges_routes(router: Router, stores: dict[str, FsBackend]) -> None:
    await router.create_bucket("mine")  # the default store takes it under its own name
    assert served_by.get() == "hot"
    await stores["hot"].create_bucket("archive-shadowed")  # routed to cold: not visible from hot
    names = [b.name for b in await router.list_buckets()]
    assert names == ["archive-2023", "docs", "mine", "photos"]  # cold's "unrouted" would route to hot
    assert (await router.head_bucket("photos")).name == "photos"
    with pytest.raises(be.NoSuchBucket):
        await router.head_bucket("ghost")
    with pytest.raises(be.NoSuchBucket):
        await router.head_bucket("archive-none")


async def test_copy_within_and_across_stores(router: Router, stores: dict[str, FsBackend]) -> None:
    data = pattern(3 * MiB + 5, seed=8)
    await router.put_object(
        "photos", "src", ChunkedBody(data), ObjectMeta(user={"k": "v"}, content_type="image/x")
    )
    info = await router.copy_object("photos", "src", "docs", "same-store", None)
    assert (info.key, info.etag) == ("same-store", md5_hex(data))
    await router.create_bucket("mine")
    info = await router.copy_object("photos", "src", "mine", "across", None)
    assert (info.key, info.etag) == ("across", md5_hex(data))
    head = await stores["hot"].head_object("mine", "across")
    assert (head.meta.user, head.meta.content_type) == ({"k": "v"}, "image/x")
    info = await router.copy_object("mine", "across", "archive-2023", "replaced", ObjectMeta(user={"n": "m"}))
    assert (await stores["cold"].head_object("archive-2023", "replaced")).meta.user == {"n": "m"}
    with pytest.raises(be.NoSuchKey):
        await router.copy_object("photos", "missing", "mine", "x", None)


async def test_cross_store_copy_streams(router: Router, stores: dict[str, FsBackend]) -> None:
    await router.create_bucket("mine")
    body = GeneratedBody(48 * MiB)
    await router.put_object("archive-2023", "big", body, ObjectMeta())
    tracemalloc.start()
    try:
        info = await router.copy_object("archive-2023", "big", "mine", "big", None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.etag == body.digest.hexdigest()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB copying 48 MiB across stores"


async def test_multipart_and_part_copy_across(router: Router, stores: dict[str, FsBackend]) -> None:
    src = pattern(6 * MiB, seed=4)
    await router.put_object("archive-2023", "src", ChunkedBody(src), ObjectMeta())
    upload = await router.create_multipart_upload("photos", "mp", ObjectMeta())
    first = await router.upload_part_copy("photos", "mp", upload, 1, "archive-2023", "src", (0, 5 * MiB - 1))
    second = await router.upload_part("photos", "mp", upload, 2, ChunkedBody(b"tail"))
    uploads = await router.list_multipart_uploads("photos")
    assert [(u.key, u.upload_id) for u in uploads.uploads] == [("mp", upload)]
    parts = await router.list_parts("photos", "mp", upload)
    assert [p.size for p in parts.parts] == [5 * MiB, 4]
    info = await router.complete_multipart_upload(
        "photos", "mp", upload, [CompletedPart(1, first.etag), CompletedPart(2, second.etag)]
    )
    assert info.key == "mp"
    assert await get_bytes(stores["shared"], "pool", "photos/mp") == src[: 5 * MiB] + b"tail"


async def test_configuration_errors(stores: dict[str, FsBackend]) -> None:
    with pytest.raises(ValueError):
        Router.from_routes([{"bucket": "x", "backend": "hot", "unknown": 1}], stores.__getitem__)
    with pytest.raises(ValueError):
        Router([])
    with pytest.raises(KeyError):
        Router.from_routes([{"bucket": "x", "backend": "nope"}], stores.__getitem__)
