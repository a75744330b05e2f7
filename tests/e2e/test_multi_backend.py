"""The composites as a client sees them: one real gateway process over several real stores, driven with
boto3. Routing by bucket (with a remote bucket and a key prefix), copies streamed between two stores,
fallback while the primary's endpoint is killed mid-run, retries of a throttling store, a mirror with a
member down, and a multipart upload that stays on its store across gateway processes.

Stores: one moto S3 server for the module; a second s3bridge on its fs backend (it verifies the
gateway's signatures); the flaky proxy (tests/helpers/flaky_proxy.py) in front of moto wherever a store must throttle or
vanish. Killing the proxy by its pid is the store going away; starting it again on the same port is the
store coming back, with its data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import anyio
import botocore.exceptions
import pytest

from backends import errors as be
from backends.fs.backend import FsBackend
from tests.helpers.bodies import pattern
from tests.helpers.clients import make_client, sha256_file, write_random
from tests.helpers.faults import arm, counts, flaky_proxy
from tests.helpers.journal import wait_drained
from tests.helpers.multi import (
    ROUTES,
    MiB,
    Routed,
    body_sha256,
    direct_client,
    fallback_backends,
    metric,
    oss_emulator,
    processes,
    range_sha256,
    retrying_client,
    s3_backend,
    served,
    start_gateway,
    store_gateway,
    write_config,
)
from tests.helpers.procs import ServerProcess, moto_server


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# -- 1. routing ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def routed(moto: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Routed]:
    """``alpha`` on moto, ``beta`` on a second s3bridge, ``gamma`` on the OSS emulator, ``photos``
    under ``photos/`` in moto's ``prod-media``."""
    root = tmp_path_factory.mktemp("routed")
    with processes() as procs:
        store = store_gateway(root / "store")
        procs.append(store)
        oss, oss_options = oss_emulator(root / "oss")
        procs.append(oss)
        config = write_config(
            root / "gateway.yaml",
            {
                "alpha_store": s3_backend(moto.url),
                "beta_store": s3_backend(store.url),
                "gamma_store": oss_options,
            },
            ROUTES,
        )
        gateway = start_gateway(config, root / "gateway.log")
        procs.append(gateway)
        s3 = make_client(gateway.url)
        for bucket in ("alpha", "beta", "gamma"):
            s3.create_bucket(Bucket=bucket)
        direct_client(moto.url).create_bucket(Bucket="prod-media")
        yield Routed(gateway, moto, store)


def test_buckets_route_to_their_stores(routed: Routed) -> None:
    s3 = make_client(routed.gateway.url)
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"alpha", "beta", "gamma", "photos"} <= names
    a = s3.put_object(Bucket="alpha", Key="where", Body=b"on moto")
    b = s3.put_object(Bucket="beta", Key="where", Body=b"on the fs store")
    assert served(a) == "alpha_store" and served(b) == "beta_store"
    got = s3.get_object(Bucket="beta", Key="where")
    assert got["Body"].read() == b"on the fs store" and served(got) == "beta_store"
    assert served(s3.head_object(Bucket="alpha", Key="where")) == "alpha_store"
    # Each store holds its own bucket's object and nothing of the other's.
    moto = direct_client(routed.moto.url)
    store = direct_client(routed.store.url)
    assert moto.get_object(Bucket="alpha", Key="where")["Body"].read() == b"on moto"
    assert store.get_object(Bucket="beta", Key="where")["Body"].read() == b"on the fs store"
    assert "beta" not in {b["Name"] for b in moto.list_buckets()["Buckets"]}
    assert "alpha" not in {b["Name"] for b in store.list_buckets()["Buckets"]}


def test_prefix_route_hides_the_prefix(routed: Routed) -> None:
    s3 = make_client(routed.gateway.url)
    moto = direct_client(routed.moto.url)
    moto.put_object(Bucket="prod-media", Key="other/not-mine.txt", Body=b"x")
    moto.put_object(Bucket="prod-media", Key="photosX", Body=b"x")
    for key in ("2024/cat.jpg", "2024/dog.jpg", "top.jpg"):
        assert served(s3.put_object(Bucket="photos", Key=key, Body=key.encode())) == "alpha_store"
    remote = {o["Key"] for o in moto.list_objects_v2(Bucket="prod-media", Prefix="photos/")["Contents"]}
    assert remote == {"photos/2024/cat.jpg", "photos/2024/dog.jpg", "photos/top.jpg"}
    listed = s3.list_objects_v2(Bucket="photos")
    assert [o["Key"] for o in listed["Contents"]] == ["2024/cat.jpg", "2024/dog.jpg", "top.jpg"]
    assert served(listed) == "alpha_store"
    top = s3.list_objects_v2(Bucket="photos", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["2024/"]
    assert [o["Key"] for o in top["Contents"]] == ["top.jpg"]
    after = s3.list_objects_v2(Bucket="photos", StartAfter="2024/cat.jpg")
    assert [o["Key"] for o in after["Contents"]] == ["2024/dog.jpg", "top.jpg"]
    v1 = s3.list_objects(Bucket="photos", Prefix="2024/", MaxKeys=1)
    assert [o["Key"] for o in v1["Contents"]] == ["2024/cat.jpg"] and v1["IsTruncated"]
    assert s3.get_object(Bucket="photos", Key="2024/dog.jpg")["Body"].read() == b"2024/dog.jpg"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket="photos", Key="photos/top.jpg")  # the prefix is not a key clients see
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket="photos", PaginationConfig={"PageSize": 1})
    )
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == [
        "2024/cat.jpg",
        "2024/dog.jpg",
        "top.jpg",
    ]
    assert len(pages) == 3
    # A copy inside one store stays server-side, prefix added on the way in and hidden on the way out.
    copied = s3.copy_object(
        Bucket="alpha", Key="from-photos", CopySource={"Bucket": "photos", "Key": "2024/cat.jpg"}
    )
    assert served(copied) == "alpha_store"
    assert moto.get_object(Bucket="alpha", Key="from-photos")["Body"].read() == b"2024/cat.jpg"
    s3.copy_object(
        Bucket="photos", Key="2025/again.jpg", CopySource={"Bucket": "alpha", "Key": "from-photos"}
    )
    assert moto.get_object(Bucket="prod-media", Key="photos/2025/again.jpg")["Body"].read() == b"2024/cat.jpg"
    uid = s3.create_multipart_upload(Bucket="photos", Key="2025/parts.jpg")["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket="photos")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("2025/parts.jpg", uid)]
    assert [u["Key"] for u in moto.list_multipart_uploads(Bucket="prod-media")["Uploads"]] == [
        "photos/2025/parts.jpg"
    ]
    s3.abort_multipart_upload(Bucket="photos", Key="2025/parts.jpg", UploadId=uid)
    gone = s3.delete_objects(
        Bucket="photos", Delete={"Objects": [{"Key": "2025/again.jpg"}, {"Key": "nothing"}]}
    )
    assert sorted(d["Key"] for d in gone["Deleted"]) == ["2025/again.jpg", "nothing"]
    s3.delete_object(Bucket="photos", Key="top.jpg")
    assert {o["Key"] for o in moto.list_objects_v2(Bucket="prod-media")["Contents"]} == {
        "other/not-mine.txt",
        "photosX",
        "photos/2024/cat.jpg",
        "photos/2024/dog.jpg",
    }
    assert "photos/top.jpg" not in {o["Key"] for o in moto.list_objects_v2(Bucket="prod-media")["Contents"]}
    assert "photos" in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_prefix_route_is_a_view_its_bucket_commands_never_reach(routed: Routed) -> None:
    """DeleteBucket on an emptied prefix route must not delete the remote bucket (before the fix moto
    deleted ``prod-scratch``); CreateBucket, HeadBucket and ListBuckets agree that the view exists
    while its remote bucket does."""
    s3 = make_client(routed.gateway.url)
    moto = direct_client(routed.moto.url)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.create_bucket(Bucket="scratch")  # the operator, not a client, creates a shared bucket
    assert err.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert "prod-scratch" not in {b["Name"] for b in moto.list_buckets()["Buckets"]}
    moto.create_bucket(Bucket="prod-scratch")
    s3.head_bucket(Bucket="scratch")
    assert "scratch" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    s3.put_object(Bucket="scratch", Key="tmp", Body=b"x")
    s3.delete_object(Bucket="scratch", Key="tmp")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.delete_bucket(Bucket="scratch")
    assert err.value.response["Error"]["Code"] == "MethodNotAllowed"
    # The view exists and is the caller's: in us-east-1 S3 answers the owner's re-create 200 (elsewhere
    # BucketAlreadyOwnedByYou), creating nothing.
    assert s3.create_bucket(Bucket="scratch")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "prod-scratch" in {b["Name"] for b in moto.list_buckets()["Buckets"]}
    s3.head_bucket(Bucket="scratch")
    moto.delete_bucket(Bucket="prod-scratch")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.delete_bucket(Bucket="scratch")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"


def test_copies_across_stores_12mib(routed: Routed, tmp_path: Path) -> None:
    """CopyObject and UploadPartCopy between two stores stream through the gateway, bytes intact."""
    s3 = make_client(routed.gateway.url)
    src = write_random(tmp_path / "src", 12 * MiB, seed=7)
    want = sha256_file(src)
    with open(src, "rb") as f:
        s3.put_object(Bucket="alpha", Key="big.bin", Body=f, Metadata={"origin": "alpha"})
    copied = s3.copy_object(
        Bucket="beta", Key="big-copy.bin", CopySource={"Bucket": "alpha", "Key": "big.bin"}
    )
    assert served(copied) == "beta_store"
    got = s3.get_object(Bucket="beta", Key="big-copy.bin")
    assert got["ContentLength"] == 12 * MiB and got["Metadata"] == {"origin": "alpha"}
    assert body_sha256(got) == want
    assert body_sha256(direct_client(routed.store.url).get_object(Bucket="beta", Key="big-copy.bin")) == want

    uid = s3.create_multipart_upload(Bucket="beta", Key="assembled.bin")["UploadId"]
    cuts = [(0, 5 * MiB - 1), (5 * MiB, 10 * MiB - 1), (10 * MiB, 12 * MiB - 1)]
    parts = []
    for n, (start, end) in enumerate(cuts, start=1):
        answer = s3.upload_part_copy(
            Bucket="beta", Key="assembled.bin", UploadId=uid, PartNumber=n,
            CopySource={"Bucket": "alpha", "Key": "big.bin"}, CopySourceRange=f"bytes={start}-{end}",
        )  # fmt: skip
        assert served(answer) == "beta_store"
        parts.append({"PartNumber": n, "ETag": answer["CopyPartResult"]["ETag"]})
    listed = s3.list_parts(Bucket="beta", Key="assembled.bin", UploadId=uid)
    assert [p["Size"] for p in listed["Parts"]] == [5 * MiB, 5 * MiB, 2 * MiB]
    s3.complete_multipart_upload(
        Bucket="beta", Key="assembled.bin", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert body_sha256(s3.get_object(Bucket="beta", Key="assembled.bin")) == want
    ranged = s3.get_object(Bucket="beta", Key="assembled.bin", Range=f"bytes={5 * MiB - 3}-{5 * MiB + 2}")
    assert _sha(ranged["Body"].read()) == range_sha256(src, 5 * MiB - 3, 5 * MiB + 2)

    # And back the other way, from the fs store into moto.
    back = s3.copy_object(
        Bucket="alpha", Key="back.bin", CopySource={"Bucket": "beta", "Key": "assembled.bin"}
    )
    assert served(back) == "alpha_store"
    assert body_sha256(direct_client(routed.moto.url).get_object(Bucket="alpha", Key="back.bin")) == want
    uid = s3.create_multipart_upload(Bucket="alpha", Key="tail.bin")["UploadId"]
    part = s3.upload_part_copy(
        Bucket="alpha", Key="tail.bin", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": "beta", "Key": "big-copy.bin"}, CopySourceRange=f"bytes={11 * MiB}-{12 * MiB - 1}",
    )  # fmt: skip
    s3.complete_multipart_upload(
        Bucket="alpha", Key="tail.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
    )  # fmt: skip
    assert body_sha256(s3.get_object(Bucket="alpha", Key="tail.bin")) == range_sha256(
        src, 11 * MiB, 12 * MiB - 1
    )


def test_copies_between_s3_and_oss(routed: Routed, tmp_path: Path) -> None:
    """The OSS store in the mix: a 12 MiB copy from moto into OSS, and part copies from OSS into the fs
    store, all streamed through the gateway."""
    s3 = make_client(routed.gateway.url)
    src = write_random(tmp_path / "src", 12 * MiB, seed=8)
    want = sha256_file(src)
    with open(src, "rb") as f:
        s3.put_object(Bucket="alpha", Key="to-oss.bin", Body=f)
    copied = s3.copy_object(
        Bucket="gamma", Key="in-oss.bin", CopySource={"Bucket": "alpha", "Key": "to-oss.bin"}
    )
    assert served(copied) == "gamma_store"
    got = s3.get_object(Bucket="gamma", Key="in-oss.bin")
    assert served(got) == "gamma_store" and got["ContentLength"] == 12 * MiB
    assert body_sha256(got) == want
    uid = s3.create_multipart_upload(Bucket="beta", Key="from-oss.bin")["UploadId"]
    parts = []
    for n, (start, end) in enumerate([(0, 6 * MiB - 1), (6 * MiB, 12 * MiB - 1)], start=1):
        answer = s3.upload_part_copy(
            Bucket="beta", Key="from-oss.bin", UploadId=uid, PartNumber=n,
            CopySource={"Bucket": "gamma", "Key": "in-oss.bin"}, CopySourceRange=f"bytes={start}-{end}",
        )  # fmt: skip
        parts.append({"PartNumber": n, "ETag": answer["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(
        Bucket="beta", Key="from-oss.bin", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert body_sha256(direct_client(routed.store.url).get_object(Bucket="beta", Key="from-oss.bin")) == want


# -- 2. fallback while the primary is killed ---------------------------------------------------------


UPLOADS = 200
KILL_AT, REVIVE_AT = 60, 130


def test_primary_killed_mid_run_loses_no_acknowledged_upload(moto: ServerProcess, tmp_path: Path) -> None:
    with processes() as procs:
        proxy = flaky_proxy(moto.url, log_path=tmp_path / "proxy.log").start()
        procs.append(proxy)
        config = write_config(
            tmp_path / "gateway.yaml", fallback_backends(proxy, tmp_path / "local", breaker=True)
        )
        log = tmp_path / "gateway.log"
        gateway = start_gateway(config, log)
        procs.append(gateway)
        client = retrying_client(gateway.url)
        assert served(client.create_bucket(Bucket="fb-run")) == "primary,local"

        acked: dict[str, tuple[str, str | None]] = {}
        failed: dict[str, str] = {}
        lock = threading.Lock()
        progress = threading.Condition(lock)
        revived = threading.Event()

        def upload(n: int) -> None:
            key, data = f"obj/{n:03d}", pattern(2_000 + 97 * n, seed=n)
            if n >= REVIVE_AT:  # the rest of the run starts once the primary is back
                assert revived.wait(timeout=60), "the primary was not brought back"
            try:
                answer = client.put_object(Bucket="fb-run", Key=key, Body=data)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                with progress:  # the client was told it failed: allowed, but counted below
                    failed[key] = repr(exc)
                    progress.notify_all()
                return
            with progress:
                acked[key] = (_sha(data), served(answer))
                progress.notify_all()

        def wait_for(done: int) -> None:
            with progress:
                assert progress.wait_for(lambda: len(acked) + len(failed) >= done, timeout=60), (
                    "uploads stalled"
                )

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(upload, n) for n in range(UPLOADS)]
            try:
                wait_for(KILL_AT)
                proxy.kill()  # the primary's endpoint is gone, requests in flight included
                wait_for(REVIVE_AT)
                proxy = flaky_proxy(moto.url, port=proxy.port, log_path=tmp_path / "proxy.log").start()
                procs.append(proxy)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
            finally:
                revived.set()
            for f in futures:
                f.result(timeout=120)

        assert failed == {}
        assert len(acked) == UPLOADS
        by = {name: sorted(k for k, (_, s) in acked.items() if s == name) for name in ("primary", "local")}
        assert len(by["primary"]) + len(by["local"]) == UPLOADS, {s for _, s in acked.values()}
        assert by["local"], "no upload fell back while the primary was down"
        assert any(k > f"obj/{REVIVE_AT + 20:03d}" for k in by["primary"]), "the primary never came back"

        # Counted and logged, once per upload the secondary took, and once per read of a bucket setting
        # (the access decision's bucket policy, cached for 2 s) the secondary answered.
        fallbacks = metric(gateway, "s3bridge_backend_fallbacks_total", backend="fb")
        deadline = time.monotonic() + 10
        while True:  # the log file may trail the metric by a moment
            text = log.read_text(errors="replace")
            settings_reads = text.count("GetBucketSetting: primary unavailable, using local")
            if fallbacks == len(by["local"]) + settings_reads or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert fallbacks == len(by["local"]) + settings_reads
        assert "WARNING s3bridge.fallback PutObject: primary unavailable, using local" in text

        # The secondary journalled what it took; once the journal drained, the primary's store holds every
        # acknowledged upload (those of the outage replayed), whole, and reads come from it again.
        wait_drained(tmp_path / "local", [gateway])
        assert metric(gateway, "s3bridge_fallback_journal_replayed_total", backend="fb") >= len(by["local"])
        moto = direct_client(moto.url)
        moto_keys = {
            o["Key"]
            for page in moto.get_paginator("list_objects_v2").paginate(Bucket="fb-run")
            for o in page.get("Contents", [])
        }
        assert moto_keys == set(acked)
        reader = make_client(gateway.url)
        for key, (digest, _) in sorted(acked.items()):
            assert body_sha256(moto.get_object(Bucket="fb-run", Key=key)) == digest, key
            got = reader.get_object(Bucket="fb-run", Key=key)
            assert body_sha256(got) == digest, key
            assert served(got) == "primary", key
        assert metric(gateway, "s3bridge_backend_fallbacks_total", backend="fb") == fallbacks


# -- 3. retries of a throttling primary --------------------------------------------------------------


@dataclass
class FallbackStack:
    gateway: ServerProcess
    proxy: ServerProcess
    config: Path
    local: Path
    root: Path


@pytest.fixture(scope="module")
def fb_stack(moto: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FallbackStack]:
    root = tmp_path_factory.mktemp("fb-stack")
    with processes() as procs:
        proxy = flaky_proxy(moto.url, log_path=root / "proxy.log").start()
        procs.append(proxy)
        config = write_config(root / "gateway.yaml", fallback_backends(proxy, root / "local", breaker=False))
        gateway = start_gateway(config, root / "gateway.log")
        procs.append(gateway)
        make_client(gateway.url).create_bucket(Bucket="steady")
        yield FallbackStack(gateway, proxy, config, root / "local", root)


def test_slowdown_is_retried_on_the_primary_without_fallback(
    fb_stack: FallbackStack, moto: ServerProcess
) -> None:
    gw = fb_stack.gateway
    s3 = make_client(gw.url)
    s3.put_object(Bucket="steady", Key="read-me", Body=b"primary bytes")
    retries_before = metric(gw, "s3bridge_backend_retries_total", backend="primary")
    before = counts(fb_stack.proxy)
    arm(fb_stack.proxy, 3, method="GET")
    got = s3.get_object(Bucket="steady", Key="read-me")
    assert got["Body"].read() == b"primary bytes"
    assert served(got) == "primary"
    assert got["ResponseMetadata"]["RetryAttempts"] == 0  # the gateway's retries did it, not the client's
    assert counts(fb_stack.proxy)["failed"] - before["failed"] == 3
    assert metric(gw, "s3bridge_backend_retries_total", backend="primary") - retries_before == 3
    assert metric(gw, "s3bridge_backend_fallbacks_total", backend="fb") == 0

    # A PUT's body is spent by the throttled attempt, so the gateway hands the 503 SlowDown back and the
    # client's SDK resends: still the primary that stores it, still no fallback.
    client = retrying_client(gw.url)
    arm(fb_stack.proxy, 2, method="PUT")
    put = client.put_object(Bucket="steady", Key="written", Body=b"after two SlowDowns")
    assert served(put) == "primary" and put["ResponseMetadata"]["RetryAttempts"] == 2
    direct = direct_client(moto.url).get_object(Bucket="steady", Key="written")
    assert direct["Body"].read() == b"after two SlowDowns"
    assert metric(gw, "s3bridge_backend_fallbacks_total", backend="fb") == 0
    assert counts(fb_stack.proxy)["pending"] == 0


# -- 4. a mirror with a member down ------------------------------------------------------------------


def test_mirror_with_a_member_killed(moto: ServerProcess, tmp_path: Path) -> None:
    with processes() as procs:
        proxy = flaky_proxy(moto.url, log_path=tmp_path / "proxy.log").start()
        procs.append(proxy)
        config = write_config(
            tmp_path / "gateway.yaml",
            {
                "far": s3_backend(proxy.url, connect_timeout=1),
                "near": {"type": "fs", "root": str(tmp_path / "near"), "fsync": False},
                "any1": {"type": "mirror", "members": ["far", "near"], "write_quorum": 1},
                "all2": {"type": "mirror", "members": ["far", "near"], "write_quorum": 2},
            },
            [{"bucket": "mirror-q1", "backend": "any1"}, {"bucket": "mirror-q2", "backend": "all2"}],
        )
        gateway = start_gateway(config, tmp_path / "gateway.log")
        procs.append(gateway)
        s3 = make_client(gateway.url)
        for bucket in ("mirror-q1", "mirror-q2"):
            s3.create_bucket(Bucket=bucket)
            assert served(s3.put_object(Bucket=bucket, Key="before", Body=b"both")) == "far,near"
        assert direct_client(moto.url).get_object(Bucket="mirror-q2", Key="before")["Body"].read() == b"both"

        proxy.kill()
        put = s3.put_object(Bucket="mirror-q1", Key="during", Body=b"near only")
        assert served(put) == "near"
        for key, body in (("during", b"near only"), ("before", b"both")):
            got = s3.get_object(Bucket="mirror-q1", Key=key)
            assert got["Body"].read() == body and served(got) == "near"

        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.put_object(Bucket="mirror-q2", Key="during", Body=b"short of quorum")
        answer = err.value.response
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert answer["Error"]["Code"] in ("ServiceUnavailable", "SlowDown")
        # Reads of what both stored still work with one member gone.
        assert s3.get_object(Bucket="mirror-q2", Key="before")["Body"].read() == b"both"

        # A multipart upload with one member down: quorum 1 carries it on the member that is up.
        part1, part2 = pattern(5 * MiB, seed=71), pattern(999, seed=72)
        uid = s3.create_multipart_upload(Bucket="mirror-q1", Key="mpu")["UploadId"]
        etags = [
            s3.upload_part(Bucket="mirror-q1", Key="mpu", UploadId=uid, PartNumber=n, Body=body)["ETag"]
            for n, body in ((1, part1), (2, part2))
        ]
        s3.complete_multipart_upload(
            Bucket="mirror-q1", Key="mpu", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]},
        )  # fmt: skip
        assert body_sha256(s3.get_object(Bucket="mirror-q1", Key="mpu")) == _sha(part1 + part2)
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.create_multipart_upload(Bucket="mirror-q2", Key="mpu")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


# -- 5. a multipart upload stays on its store ------------------------------------------------------------


def test_multipart_stays_on_the_primary_across_gateways(fb_stack: FallbackStack, moto: ServerProcess) -> None:
    with processes() as procs:
        second = start_gateway(fb_stack.config, fb_stack.root / "gateway2.log")
        procs.append(second)
        one, two = make_client(fb_stack.gateway.url), make_client(second.url)
        part1, part2 = pattern(5 * MiB, seed=51), pattern(MiB + 123, seed=52)
        created = one.create_multipart_upload(Bucket="steady", Key="mpu.bin")
        uid = created["UploadId"]
        assert served(created) == "primary"
        p1 = one.upload_part(Bucket="steady", Key="mpu.bin", UploadId=uid, PartNumber=1, Body=part1)
        p2 = two.upload_part(Bucket="steady", Key="mpu.bin", UploadId=uid, PartNumber=2, Body=part2)
        assert served(p1) == served(p2) == "primary"
        # The parts are in the primary's store, under its own upload.
        pending = direct_client(moto.url).list_multipart_uploads(Bucket="steady")["Uploads"]
        assert [u["Key"] for u in pending] == ["mpu.bin"] and uid.endswith(pending[0]["UploadId"])
        listed = two.list_parts(Bucket="steady", Key="mpu.bin", UploadId=uid)
        assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 5 * MiB), (2, MiB + 123)]
        done = two.complete_multipart_upload(
            Bucket="steady", Key="mpu.bin", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]},
        )  # fmt: skip
        assert served(done) == "primary" and done["ETag"].strip('"').endswith("-2")
        stored = direct_client(moto.url).get_object(Bucket="steady", Key="mpu.bin")
        assert body_sha256(stored) == _sha(part1 + part2)
        assert body_sha256(one.get_object(Bucket="steady", Key="mpu.bin")) == _sha(part1 + part2)

    async def on_secondary() -> None:
        local = FsBackend(fb_stack.local, name="inspect", fsync=False)
        await local.start()
        try:
            with pytest.raises(be.NoSuchKey):
                await local.head_object("steady", "mpu.bin")
            assert (await local.list_multipart_uploads("steady")).uploads == []
        finally:
            await local.close()

    anyio.run(on_secondary)


def test_multipart_begun_on_the_secondary_stays_there(moto: ServerProcess, tmp_path: Path) -> None:
    """An upload created while the primary was down lives on the secondary: once the primary is back,
    its parts and its completion still go to the secondary, and the primary never sees the upload; the
    completed object is journalled and replayed to the primary. Meanwhile an object only the dead
    primary holds answers 503 (retry later), never NoSuchKey, and deleting one is acknowledged (the
    journal's tombstone deletes it on the primary once it is back)."""
    with processes() as procs:
        proxy = flaky_proxy(moto.url, log_path=tmp_path / "proxy.log").start()
        procs.append(proxy)
        config = write_config(
            tmp_path / "gateway.yaml", fallback_backends(proxy, tmp_path / "local", breaker=False)
        )
        gateway = start_gateway(config, tmp_path / "gateway.log")
        procs.append(gateway)
        s3 = make_client(gateway.url)
        s3.create_bucket(Bucket="outage-mpu")
        s3.put_object(Bucket="outage-mpu", Key="held", Body=b"only on the primary")
        s3.put_object(Bucket="outage-mpu", Key="doomed", Body=b"deleted during the outage")
        proxy.kill()
        # What only the dead primary holds is unavailable, not missing.
        for call in (
            lambda: s3.get_object(Bucket="outage-mpu", Key="held"),
            lambda: s3.head_object(Bucket="outage-mpu", Key="held"),
        ):
            with pytest.raises(botocore.exceptions.ClientError) as err:
                call()
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert (
            s3.delete_object(Bucket="outage-mpu", Key="doomed")["ResponseMetadata"]["HTTPStatusCode"] == 204
        )
        created = s3.create_multipart_upload(Bucket="outage-mpu", Key="late.bin")
        assert served(created) == "local"
        uid = created["UploadId"]
        proxy = flaky_proxy(moto.url, port=proxy.port, log_path=tmp_path / "proxy.log").start()
        procs.append(proxy)
        assert served(s3.put_object(Bucket="outage-mpu", Key="probe", Body=b"up")) == "primary"
        part1, part2 = pattern(5 * MiB, seed=61), pattern(4321, seed=62)
        p1 = s3.upload_part(Bucket="outage-mpu", Key="late.bin", UploadId=uid, PartNumber=1, Body=part1)
        p2 = s3.upload_part(Bucket="outage-mpu", Key="late.bin", UploadId=uid, PartNumber=2, Body=part2)
        assert served(p1) == served(p2) == "local"
        assert direct_client(moto.url).list_multipart_uploads(Bucket="outage-mpu").get("Uploads", []) == []
        done = s3.complete_multipart_upload(
            Bucket="outage-mpu", Key="late.bin", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]},
        )  # fmt: skip
        assert served(done) == "local"
        got = s3.get_object(Bucket="outage-mpu", Key="late.bin")
        assert body_sha256(got) == _sha(part1 + part2)
        assert s3.get_object(Bucket="outage-mpu", Key="held")["Body"].read() == b"only on the primary"
        with pytest.raises(botocore.exceptions.ClientError) as err:
            s3.head_object(Bucket="outage-mpu", Key="doomed")
        assert err.value.response["Error"]["Code"] in ("404", "NoSuchKey")
        assert metric(gateway, "s3bridge_backend_fallbacks_total", backend="fb") == 2
        # The journal drains into the primary: the completed upload is there, the tombstoned key is not.
        wait_drained(tmp_path / "local", [gateway])
        direct = direct_client(moto.url)
        assert body_sha256(direct.get_object(Bucket="outage-mpu", Key="late.bin")) == _sha(part1 + part2)
        with pytest.raises(botocore.exceptions.ClientError) as err:
            direct.head_object(Bucket="outage-mpu", Key="doomed")
        assert err.value.response["Error"]["Code"] in ("404", "NoSuchKey")
