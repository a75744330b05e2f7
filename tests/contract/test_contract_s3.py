"""The backend contract suite over the S3 backend, against two real stores on loopback.

- moto's S3 server (it does not check signatures). moto deviates from AWS in a few multipart places;
  those tests are marked strict xfail with the exact deviation, so they start failing the day moto
  behaves like AWS and the mark must go.
- a second s3bridge process over its filesystem backend, which verifies every SigV4 signature, so the
  UNSIGNED-PAYLOAD streaming uploads are checked by a signature-verifying store.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError

from backends import errors as be
from backends.base import Backend, ByteRange, ObjectMeta
from backends.s3.backend import S3Backend, build
from backends.s3.settings import Settings
from backends.wholebody import SMALL_BODY, WholeBody
from tests.contract.stores import (
    GATEWAY_KEY,
    GATEWAY_SECRET,
    META_BUCKET,
    MotoVersioningContract,
    RecordsAnswerRepeats,
    moto_deviation,
)
from tests.contract.suite import BackendContract
from tests.helpers.bodies import (
    BodyFailed,
    ChunkedBody,
    FailingBody,
    get_bytes,
    md5_hex,
    multipart_etag,
    pattern,
    started,
)
from tests.helpers.emulated import no_lookup
from tests.helpers.procs import REPO, ServerProcess, free_port, gateway_server, moto_server


def s3_settings(url: str, key: str, secret: str, **extra: object) -> Settings:
    return Settings.model_validate(
        {
            "type": "s3",
            "endpoint": url,
            "access_key": key,
            "secret_key": secret,
            "meta_bucket": META_BUCKET,
            **extra,
        }
    )


class TestContractS3Moto(RecordsAnswerRepeats, MotoVersioningContract):
    object_lock = True  # the store's own, passed through

    @pytest.fixture
    async def backend(self, moto: ServerProcess) -> AsyncIterator[Backend]:
        settings = s3_settings(moto.url, "moto-access", "moto-secret")
        backend = build(settings, name="s3-moto", lookup=no_lookup)  # with object records
        await backend.start()
        try:
            yield backend
        finally:
            await backend.close()

    @moto_deviation("CompleteMultipartUpload ignores If-Match", pytest.fail.Exception)
    async def test_conditional_complete(self, backend: Backend, bucket: str) -> None:
        await super().test_conditional_complete(backend, bucket)


class TestContractS3Gateway(BackendContract):
    """The store is s3bridge itself (fs backend), checking every signature the backend sends: versions
    pass through twice (the store's fs versions, through its S3 front end, through this backend)."""

    object_lock = True

    @pytest.fixture
    async def backend(self, gateway_store: ServerProcess) -> AsyncIterator[Backend]:
        settings = s3_settings(gateway_store.url, GATEWAY_KEY, GATEWAY_SECRET)
        backend = build(settings, name="s3-gateway", lookup=no_lookup)  # with object records
        await backend.start()
        try:
            yield backend
        finally:
            await backend.close()


# -- S3-backend behaviour beyond the suite -----------------------------------------------------------
pytestmark = pytest.mark.anyio
MiB = 1024 * 1024


class SlowChunks:
    """A PutBody of ``size`` bytes in 1 MiB chunks that calls ``at_chunk(i)`` before yielding chunk i."""

    def __init__(self, size: int, at_chunk: Callable[[int], None]):
        self.size: int | None = size
        self._at_chunk = at_chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(self.size // MiB):
            self._at_chunk(i)
            yield bytes([i % 251]) * MiB

    @property
    def checksums(self) -> dict[str, str]:
        return {}


@asynccontextmanager
async def s3_backend(url: str, **extra: object) -> AsyncIterator[S3Backend]:
    async for backend in started(
        S3Backend(s3_settings(url, "moto-access", "moto-secret", **extra), name="s3-extra")
    ):
        yield backend


def unsized(body: ChunkedBody) -> ChunkedBody:
    body.size = None
    return body


async def test_streamed_multipart_above_threshold(moto: ServerProcess) -> None:
    data = pattern(11 * MiB + 5, seed=11)
    async with s3_backend(moto.url, multipart_threshold=MiB, part_size=5 * MiB) as backend:
        await backend.create_bucket("s3x-threshold")
        info = await backend.put_object("s3x-threshold", "big", ChunkedBody(data, 300_007), ObjectMeta())
        parts = [data[: 5 * MiB], data[5 * MiB : 10 * MiB], data[10 * MiB :]]
        assert (info.etag, info.size) == (multipart_etag(parts), len(data))
        assert await get_bytes(backend, "s3x-threshold", "big") == data
        small = await backend.put_object("s3x-threshold", "small", ChunkedBody(b"below"), ObjectMeta())
        assert small.etag == md5_hex(b"below")


class WrongMd5Body(ChunkedBody):
    """A body whose client declared a Content-MD5 the bytes do not have."""

    @property
    def declared(self) -> dict[str, str]:
        return {"md5": "AAAAAAAAAAAAAAAAAAAAAA=="}


async def test_client_md5_goes_to_the_store(gateway_store: ServerProcess) -> None:
    """A locking PutObject and an UploadPart carry the client's up-front Content-MD5 to the store, which
    checks it (a wrong one fails there); a plain PutObject carries none (the gateway checks it)."""
    backend = S3Backend(s3_settings(gateway_store.url, GATEWAY_KEY, GATEWAY_SECRET), name="s3-md5")
    async for b in started(backend):
        bucket = "s3x-md5"
        await b.create_bucket(bucket)
        await b.enable_object_lock(bucket)
        hold = ObjectMeta(legal_hold=True)
        with pytest.raises(be.InternalBackendError, match="BadDigest"):
            await b.put_object(bucket, "locked", WrongMd5Body(b"x" * 70_000), hold)
        upload = await b.create_multipart_upload(bucket, "mp", ObjectMeta())
        with pytest.raises(be.InternalBackendError, match="BadDigest"):
            await b.upload_part(bucket, "mp", upload, 1, WrongMd5Body(b"part"))
        await b.abort_multipart_upload(bucket, "mp", upload)
        plain = await b.put_object(bucket, "plain", WrongMd5Body(b"plain"), ObjectMeta())
        assert plain.etag == md5_hex(b"plain")
        assert (await b.list_object_versions(bucket, prefix="locked")).versions == []


async def test_unknown_size_bodies(moto: ServerProcess) -> None:
    data = pattern(12 * MiB, seed=12)
    async with s3_backend(moto.url, part_size=5 * MiB) as backend:
        await backend.create_bucket("s3x-unsized")
        small = await backend.put_object("s3x-unsized", "small", unsized(ChunkedBody(b"tiny")), ObjectMeta())
        assert (small.etag, small.size) == (md5_hex(b"tiny"), 4)
        exact = await backend.put_object(
            "s3x-unsized", "exact", unsized(ChunkedBody(data[: 5 * MiB])), ObjectMeta(user={"k": "v"})
        )
        assert exact.etag == md5_hex(data[: 5 * MiB])
        big = await backend.put_object("s3x-unsized", "big", unsized(ChunkedBody(data)), ObjectMeta())
        assert big.etag == multipart_etag([data[: 5 * MiB], data[5 * MiB : 10 * MiB], data[10 * MiB :]])
        assert await get_bytes(backend, "s3x-unsized", "big") == data
        assert (await backend.head_object("s3x-unsized", "exact")).meta.user == {"k": "v"}
        upload = await backend.create_multipart_upload("s3x-unsized", "mp", ObjectMeta())
        part = await backend.upload_part("s3x-unsized", "mp", upload, 1, unsized(ChunkedBody(data[:MiB])))
        assert (part.etag, part.size) == (md5_hex(data[:MiB]), MiB)
        await backend.abort_multipart_upload("s3x-unsized", "mp", upload)


@pytest.mark.parametrize(
    ("extra", "size", "fail_after", "sized"),
    [
        ({}, 3 * MiB, 3 * MiB, True),  # every byte sent, the end-of-body check fails
        ({}, 10, 10, True),
        ({"multipart_threshold": MiB, "part_size": 5 * MiB}, 11 * MiB, 7 * MiB, True),
        ({"multipart_threshold": MiB, "part_size": 5 * MiB}, 11 * MiB, 11 * MiB, True),
        ({"part_size": 5 * MiB}, 11 * MiB, 6 * MiB, False),
        ({"part_size": 5 * MiB}, 3 * MiB, 3 * MiB, False),
    ],
    ids=[
        "single-at-end",
        "tiny-at-end",
        "multipart-midway",
        "multipart-at-end",
        "unsized-midway",
        "unsized-end",
    ],
)
async def test_failing_body_leaves_nothing(
    moto: ServerProcess, extra: dict, size: int, fail_after: int, sized: bool
) -> None:
    async with s3_backend(moto.url, **extra) as backend:
        bucket = f"s3x-fail-{size}-{fail_after}-{int(sized)}"
        await backend.create_bucket(bucket)
        body = FailingBody(pattern(size), fail_after=fail_after)
        with pytest.raises(BodyFailed):
            await backend.put_object(bucket, "k", body if sized else unsized(body), ObjectMeta())
        with pytest.raises(be.NoSuchKey):
            await backend.head_object(bucket, "k")
        assert (await backend.list_multipart_uploads(bucket)).uploads == []


async def test_store_killed_mid_get(tmp_path: Path) -> None:
    with moto_server(log_path=tmp_path / "moto.log") as store:
        async with s3_backend(store.url, read_timeout=5, connect_timeout=2) as backend:
            await backend.create_bucket("s3x-kill-get")
            await backend.put_object("s3x-kill-get", "k", SlowChunks(48 * MiB, lambda i: None), ObjectMeta())
            got = await backend.get_object("s3x-kill-get", "k")
            first = await got.body.__anext__()
            assert first
            store.kill()
            started = time.monotonic()
            with pytest.raises(be.BackendUnavailable) as caught:
                async for _ in got.body:
                    pass
            assert time.monotonic() - started < 15
            assert caught.value.retryable


async def test_store_killed_mid_put(tmp_path: Path) -> None:
    with moto_server(log_path=tmp_path / "moto.log") as store:
        async with s3_backend(store.url, read_timeout=5, connect_timeout=2) as backend:
            await backend.create_bucket("s3x-kill-put")

            def kill_at(i: int) -> None:
                if i == 8:
                    store.kill()

            started = time.monotonic()
            with pytest.raises(be.BackendUnavailable):
                await backend.put_object("s3x-kill-put", "k", SlowChunks(64 * MiB, kill_at), ObjectMeta())
            assert time.monotonic() - started < 30
            started = time.monotonic()
            with pytest.raises(be.BackendUnavailable):
                await backend.head_bucket("s3x-kill-put")
            assert time.monotonic() - started < 15


async def test_unreachable_store_is_backend_unavailable() -> None:
    async with s3_backend(f"http://127.0.0.1:{free_port()}", connect_timeout=2) as backend:
        started = time.monotonic()
        with pytest.raises(be.BackendUnavailable):
            await backend.list_buckets()
        assert time.monotonic() - started < 10


async def test_wrong_secret_is_access_denied_without_leaking_it(gateway_store: ServerProcess) -> None:
    secret = "wrong-secret-DO-NOT-LOG-42"
    settings = s3_settings(gateway_store.url, GATEWAY_KEY, secret)
    assert secret not in repr(settings) and secret not in str(settings)
    backend = S3Backend(settings, name="s3-denied")
    try:
        with pytest.raises(be.AccessDenied) as caught:
            await backend.list_buckets()
        assert "SignatureDoesNotMatch" in (caught.value.detail or "")
        assert secret not in str(caught.value) and secret not in repr(backend)
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("endpoint", "secure", "host"),
    [
        ("http://127.0.0.1:9000", False, "127.0.0.1:9000"),
        ("https://s3.example.com", True, "s3.example.com"),
        ("minio.local:9000", True, "minio.local:9000"),
    ],
)
def test_settings_endpoint_forms(endpoint: str, secure: bool, host: str) -> None:
    settings = s3_settings(endpoint, "a", "b")
    assert (settings.is_secure(), settings.host_port()) == (secure, host)
    assert s3_settings(endpoint, "a", "b", secure=False).is_secure() is False


@pytest.mark.parametrize(
    "extra",
    [
        {"endpoint": "http://h:1/path"},
        {"endpoint": "ftp://h:1"},
        {"endpoint": "http://user:pw@h:1"},
        {"part_size": 5 * MiB - 1},
        {"secret_key": None},
        {"addressing": "sideways"},
        {"unknown_option": 1},
    ],
    ids=repr,
)
def test_settings_refused(extra: dict) -> None:
    with pytest.raises(ValidationError):
        s3_settings("http://127.0.0.1:9000", "a", "b", **extra)


MEMORY_PROBE = """
import asyncio, json, sys
from backends.base import ObjectMeta
from backends.s3.backend import S3Backend
from backends.s3.settings import Settings

MiB = 1024 * 1024


class Generated:
    def __init__(self, total, declare):
        self.total, self.size = total, (total if declare else None)

    async def __aiter__(self):
        block = bytes(range(256)) * (MiB // 256)
        for _ in range(self.total // MiB):
            yield block

    @property
    def checksums(self):
        return {}


async def main(url, key, secret, total, declare):
    backend = S3Backend(Settings(type="s3", endpoint=url, access_key=key, secret_key=secret), name="mem")
    await backend.create_bucket("s3x-memory")
    info = await backend.put_object("s3x-memory", "big", Generated(total, declare), ObjectMeta())
    got = await backend.get_object("s3x-memory", "big")
    seen = 0
    async for chunk in got.body:
        seen += len(chunk)
    await backend.delete_object("s3x-memory", "big")
    await backend.delete_bucket("s3x-memory")
    await backend.close()
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so it would report the forking
    # pytest process's peak; VmHWM belongs to this process's own address space.
    status = open("/proc/self/status").read()
    peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) * 1024
    print(json.dumps({"stored": info.size, "read": seen, "peak_rss": peak}))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "sized"))
"""


@pytest.mark.slow
@pytest.mark.parametrize("declared", ["sized", "unsized"])
def test_one_gib_each_way_in_bounded_memory(gateway_store: ServerProcess, declared: str) -> None:
    """A 1 GiB PUT and GET in a process of its own, whose peak RSS must stay under 150 MiB."""
    total = 1024 * MiB
    argv = [
        sys.executable,
        "-c",
        MEMORY_PROBE,
        gateway_store.url,
        GATEWAY_KEY,
        GATEWAY_SECRET,
        str(total),
        declared,
    ]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["stored"], result["read"]) == (total, total)
    assert result["peak_rss"] < 150 * MiB, result


def test_tls_store_with_ca_bundle(tmp_path: Path) -> None:
    """https to a store whose certificate only ``ca_bundle`` vouches for; without it the store is unusable."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    server = gateway_server(
        data_dir=tmp_path / "data",
        access_key=GATEWAY_KEY,
        secret_key=GATEWAY_SECRET,
        extra_args=["--certfile", str(certfile), "--keyfile", str(keyfile)],
        scheme="https",
        log_path=tmp_path / "gateway.log",
    )

    async def scenario() -> None:
        trusted = S3Backend(
            s3_settings(server.url, GATEWAY_KEY, GATEWAY_SECRET, ca_bundle=str(cafile)), name="tls"
        )
        untrusted = S3Backend(
            s3_settings(server.url, GATEWAY_KEY, GATEWAY_SECRET, connect_timeout=2), name="tls-no-ca"
        )
        try:
            await trusted.create_bucket("s3x-tls")
            data = pattern(2 * MiB + 1, seed=21)
            info = await trusted.put_object("s3x-tls", "k", ChunkedBody(data), ObjectMeta())
            assert info.etag == md5_hex(data)
            assert await get_bytes(trusted, "s3x-tls", "k") == data
            with pytest.raises(be.BackendUnavailable):
                await untrusted.list_buckets()
        finally:
            await trusted.close()
            await untrusted.close()

    with server:
        anyio.run(scenario)


async def test_small_get_is_read_whole_large_streams(moto: ServerProcess) -> None:
    """A body up to SMALL_BODY comes back whole from the call that opened it (one pool call, a plain
    answer in the gateway), ranges too; a larger one still streams. Many in a row reuse the pool."""
    small, large = pattern(SMALL_BODY, seed=3), pattern(SMALL_BODY + 1, seed=4)
    async with s3_backend(moto.url) as backend:
        await backend.create_bucket("s3x-whole")
        await backend.put_object("s3x-whole", "small", ChunkedBody(small), ObjectMeta())
        await backend.put_object("s3x-whole", "large", ChunkedBody(large), ObjectMeta())
        for _ in range(40):
            got = await backend.get_object("s3x-whole", "small")
            assert isinstance(got.body, WholeBody) and got.body.data == small
        ranged = await backend.get_object("s3x-whole", "large", ByteRange(10, 19))
        assert isinstance(ranged.body, WholeBody) and ranged.body.data == large[10:20]
        assert ranged.span == (10, 19)
        streamed = await backend.get_object("s3x-whole", "large")
        assert not isinstance(streamed.body, WholeBody)
        assert b"".join([chunk async for chunk in streamed.body]) == large


def _short_body_store(declared: int, sent: int) -> tuple[socket.socket, threading.Thread]:
    """A store on loopback that answers every GET 200 with Content-Length ``declared`` and ``sent``
    bytes, then closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                head = f'HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nETag: "e"\r\n\r\n'
                conn.sendall(head.encode() + b"x" * sent)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


async def test_small_get_cut_short_is_an_error_not_a_body() -> None:
    listener, thread = _short_body_store(declared=100, sent=40)
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        async with s3_backend(url, read_timeout=5, connect_timeout=2) as backend:
            with pytest.raises(be.BackendUnavailable):
                await backend.get_object("s3x-short", "k")
    finally:
        listener.close()
        thread.join(timeout=5)
