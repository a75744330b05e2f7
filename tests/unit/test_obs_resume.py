"""OBS backend against real processes: resuming an upload from a new backend instance, failures of the
store, and memory staying bounded while large bodies stream both ways."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator

import pytest

from backends import errors as be
from backends.base import Backend, CompletedPart, ObjectMeta
from backends.obs.backend import build
from backends.obs.settings import Settings
from tests.helpers.bodies import ChunkedBody, GeneratedBody, MiB, pattern
from tests.helpers.emulated import OBS_AK as AK
from tests.helpers.emulated import OBS_SK as SK
from tests.helpers.emulated import obs_emulator
from tests.helpers.procs import ServerProcess, free_port, moto_server, running

pytestmark = pytest.mark.anyio
PART = 5 * MiB


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(obs_emulator(tmp_path_factory.mktemp("obs-emulator")))


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log"))


def settings_for(server: ServerProcess, signature: str, **changes: object) -> Settings:
    values: dict[str, object] = {"type": "obs", "server": server.url, "access_key": AK, "secret_key": SK}
    values["signature"] = signature
    if signature == "v4":
        values["region"] = "us-east-1"
    return Settings.model_validate({**values, **changes})


async def new_backend(settings: Settings) -> Backend:
    backend = build(settings, name="obs-resume", lookup=lambda n: (_ for _ in ()).throw(KeyError(n)))
    await backend.start()
    return backend


@pytest.mark.parametrize("mode", ["obs", "v4"])
async def test_resume_from_new_instance(mode: str, emulator: ServerProcess, moto: ServerProcess) -> None:
    settings = settings_for(emulator if mode == "obs" else moto, mode)
    parts = [pattern(PART, seed=1), pattern(PART, seed=2), pattern(PART, seed=3), b"the tail"]
    first = await new_backend(settings)
    try:
        await first.create_bucket("resume")
        upload = await first.create_multipart_upload("resume", "big/object.bin", ObjectMeta(user={"k": "v"}))
        for n in (1, 2):
            await first.upload_part("resume", "big/object.bin", upload, n, ChunkedBody(parts[n - 1]))
    finally:
        await first.close()  # the gateway restarts; nothing of the upload is kept locally

    second = await new_backend(settings)
    try:
        found = await second.list_multipart_uploads("resume", prefix="big/")
        assert [(u.key, u.upload_id) for u in found.uploads] == [("big/object.bin", upload)]
        listed = await second.list_parts("resume", "big/object.bin", upload)
        done = {p.part_number: p for p in listed.parts}
        assert sorted(done) == [1, 2] and all(done[n].size == PART for n in done)
        for n in range(len(done) + 1, len(parts) + 1):
            done[n] = await second.upload_part(
                "resume", "big/object.bin", upload, n, ChunkedBody(parts[n - 1])
            )
        final = [CompletedPart(n, done[n].etag) for n in sorted(done)]
        whole = await second.complete_multipart_upload("resume", "big/object.bin", upload, final)
        assert whole.size == sum(map(len, parts))
        assert whole.meta.user == {"k": "v"}
        got = await second.get_object("resume", "big/object.bin")
        sha = hashlib.sha256()
        async for chunk in got.body:
            sha.update(chunk)
        assert sha.hexdigest() == hashlib.sha256(b"".join(parts)).hexdigest()
        assert (await second.list_multipart_uploads("resume")).uploads == []
    finally:
        await second.close()


async def test_bounded_memory_both_ways(emulator: ServerProcess) -> None:
    """64 MiB up and down; Python's peak allocation stays a few chunks, far below the object size."""
    backend = await new_backend(settings_for(emulator, "obs"))
    size = 64 * MiB
    try:
        await backend.create_bucket("memory")
        tracemalloc.start()
        body = GeneratedBody(size, 256 * 1024, "sha256")
        info = await backend.put_object("memory", "big", body, ObjectMeta())
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = await backend.get_object("memory", "big")
        sha = hashlib.sha256()
        async for chunk in got.body:
            sha.update(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert info.size == size and sha.hexdigest() == body.digest.hexdigest()
        print(
            f"peak traced memory: put {put_peak / MiB:.1f} MiB, get {get_peak / MiB:.1f} MiB for {size // MiB} MiB"
        )
        assert put_peak < 8 * MiB and get_peak < 8 * MiB
    finally:
        await backend.close()


async def test_unknown_length_body_goes_multipart(emulator: ServerProcess) -> None:
    """No declared length: parts of part_size are buffered one at a time, never a chunked upload."""
    backend = await new_backend(settings_for(emulator, "obs", part_size=5 * MiB))
    try:
        await backend.create_bucket("unsized")
        data = pattern(11 * MiB + 5, seed=8)
        body = ChunkedBody(data, 100_000)
        body.size = None
        info = await backend.put_object("unsized", "k", body, ObjectMeta(content_type="text/plain"))
        assert info.etag.endswith("-3") and info.size == len(data)
        small = ChunkedBody(b"short body")
        small.size = None
        assert (await backend.put_object("unsized", "s", small, ObjectMeta())).etag == hashlib.md5(
            b"short body"
        ).hexdigest()
        got = await backend.get_object("unsized", "k")
        assert b"".join([c async for c in got.body]) == data
        assert (await backend.list_multipart_uploads("unsized")).uploads == []
    finally:
        await backend.close()


async def test_store_failures(emulator: ServerProcess) -> None:
    wrong = await new_backend(settings_for(emulator, "obs", secret_key="wrong-secret-value"))
    try:
        with pytest.raises(be.AccessDenied) as caught:
            await wrong.list_buckets()
        text = f"{caught.value} {caught.value.detail}"
        assert "obs-resume" in text and "SignatureDoesNotMatch" in text
        assert "wrong-secret-value" not in text and SK not in text
    finally:
        await wrong.close()
    gone = ServerProcess(["true"], free_port())  # nothing listens on this port
    down = await new_backend(settings_for(gone, "obs"))
    try:
        with pytest.raises(be.BackendUnavailable):
            await down.head_object("any", "key")
        with pytest.raises(be.BackendUnavailable):
            await down.put_object("any", "key", ChunkedBody(b"data"), ObjectMeta())
    finally:
        await down.close()


async def test_store_killed_mid_download(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = obs_emulator(tmp_path_factory.mktemp("killed")).start()
    backend = await new_backend(settings_for(server, "obs"))
    try:
        await backend.create_bucket("killed")
        await backend.put_object("killed", "k", ChunkedBody(pattern(16 * MiB)), ObjectMeta())
        got = await backend.get_object("killed", "k")
        stream = got.body
        await stream.__anext__()
        server.kill()
        with pytest.raises(be.BackendUnavailable):
            async for _ in stream:
                pass
    finally:
        server.stop()
        await backend.close()
