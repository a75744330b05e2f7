"""Scale-out shown, not claimed: three ``s3bridge serve`` processes with one configuration behind nginx
(round robin), on the fs backend with a root the three share, and on the s3 backend (moto). Through
nginx only: a multipart upload whose parts land on different replicas (nginx's log says which served
each), a paginated listing whose pages come from different replicas, and a fallback outage (its primary
store killed with SIGKILL, writes taken by the secondary, the primary started again, the journal
replayed to it). Every byte is checked: through nginx, through each replica, and in the store itself.

Skipped, saying why, only where nginx is missing (.ci/run installs it)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_fallback_outage import backends as fallback_backends
from tests.e2e.test_fallback_outage import primary_store
from tests.helpers import nginx
from tests.helpers.clients import make_client
from tests.helpers.multi import direct_client, metric, processes, retrying_client, s3_backend, write_config
from tests.helpers.procs import ServerProcess, free_port, gateway_server, moto_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not nginx.available(), reason="nginx not installed (.ci/run installs Debian's)"),
]

MiB = 1024 * 1024


def backends(main: dict[str, Any], store_url: str) -> dict[str, dict[str, Any]]:
    """The outage test's fallback ``fb`` (the killable primary store through a retry, and a secondary
    that keeps the outage journal) with ``main`` as that secondary; ``main`` also serves ``shared``."""
    composed = fallback_backends(store_url, Path("replaced"))
    composed["local"] = main
    return composed


ROUTES = [{"bucket": "shared", "backend": "local"}, {"bucket": "outage", "backend": "fb"}]


@pytest.fixture(params=["fs-shared-root", "s3-moto"])
def main_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "fs-shared-root":
        yield {"type": "fs", "root": str(tmp_path / "shared-root"), "fsync": False}
        return
    moto = moto_server(log_path=tmp_path / "moto.log").start()
    try:
        yield s3_backend(moto.url, meta_bucket="s3bridge-meta") | {"access_key": "moto", "secret_key": "moto"}
    finally:
        moto.stop()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_three_replicas_behind_nginx(main_backend: dict[str, Any], tmp_path: Path) -> None:
    with processes() as procs:
        store_port = free_port()
        store = primary_store(tmp_path / "primary", store_port)
        procs.append(store)
        config = write_config(tmp_path / "gateway.yaml", backends(main_backend, store.url), ROUTES)
        replicas: list[ServerProcess] = []
        for i in range(3):  # each one in procs as soon as it runs: stopped even if the next fails to start
            replicas.append(gateway_server(config=config, log_path=tmp_path / f"replica{i}.log"))
            procs.append(replicas[-1].start(timeout=90))
        lb = nginx.balancer(tmp_path / "nginx", replicas).start()
        procs.append(lb)
        addresses = {f"127.0.0.1:{r.port}" for r in replicas}
        s3 = make_client(lb.url)
        s3.create_bucket(Bucket="shared")

        # -- a multipart upload, part by part through the balancer -------------------------------------
        parts = [os.urandom(5 * MiB) for _ in range(3)] + [os.urandom(MiB + 777)]
        upload = s3.create_multipart_upload(Bucket="shared", Key="big/object.bin")["UploadId"]
        etags = [
            s3.upload_part(Bucket="shared", Key="big/object.bin", UploadId=upload, PartNumber=n + 1, Body=p)[
                "ETag"
            ]
            for n, p in enumerate(parts)
        ]
        listed_parts = s3.list_parts(Bucket="shared", Key="big/object.bin", UploadId=upload)["Parts"]
        assert [p["ETag"] for p in listed_parts] == etags
        s3.complete_multipart_upload(
            Bucket="shared",
            Key="big/object.bin",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
        )
        served_parts = nginx.upstreams_of(lb_prefix(tmp_path), "PUT", f"uploadId={upload}")
        assert len(served_parts) == len(parts)
        assert len(set(served_parts)) >= 2 and set(served_parts) <= addresses, served_parts
        whole = b"".join(parts)
        assert sha(s3.get_object(Bucket="shared", Key="big/object.bin")["Body"].read()) == sha(whole)
        for replica in replicas:  # each replica reads the same bytes from the shared store
            got = make_client(replica.url).get_object(Bucket="shared", Key="big/object.bin")["Body"].read()
            assert sha(got) == sha(whole), replica.url

        # -- a listing in pages, the pages served by different replicas ---------------------------------
        bodies = {f"list/{n:03d}": os.urandom(100 + n) for n in range(30)}
        for key, body in bodies.items():
            s3.put_object(Bucket="shared", Key=key, Body=body)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="shared", Prefix="list/", MaxKeys=7)
        listed = [(o["Key"], o["Size"]) for page in pages for o in page.get("Contents", [])]
        assert listed == [(k, len(b)) for k, b in sorted(bodies.items())]
        served_pages = nginx.upstreams_of(lb_prefix(tmp_path), "GET", "list-type=2")
        assert len(set(served_pages)) >= 2, served_pages
        for key, body in bodies.items():
            assert s3.get_object(Bucket="shared", Key=key)["Body"].read() == body

        # -- a fallback outage through the balancer -----------------------------------------------------
        client = retrying_client(lb.url)
        client.create_bucket(Bucket="outage")
        before = {f"o/{n:02d}": os.urandom(20_000 + n) for n in range(6)}
        for key, body in before.items():
            client.put_object(Bucket="outage", Key=key, Body=body)
        store.kill()  # SIGKILL: the primary store is gone
        during = {f"o/{n:02d}": os.urandom(30_000 + n) for n in range(3, 12)}  # overwrites and new keys
        for key, body in during.items():
            client.put_object(Bucket="outage", Key=key, Body=body)
        final = {**before, **during}
        fell_back = sum(metric(r, "s3bridge_backend_fallbacks_total", backend="fb") for r in replicas)
        assert fell_back > 0, "nothing fell back while the primary was down"
        for n, (key, body) in enumerate(sorted(during.items())):  # acknowledged writes read back at once
            got = make_client(replicas[n % 3].url).get_object(Bucket="outage", Key=key)["Body"].read()
            assert got == body, key
        store = primary_store(tmp_path / "primary", store_port)  # back, on the same port and root
        procs.append(store)
        direct = direct_client(store.url)
        deadline = time.monotonic() + 90
        while True:  # the journal is replayed to the primary by one of the replicas
            try:
                held = {
                    key: direct.get_object(Bucket="outage", Key=key)["Body"].read() for key in sorted(final)
                }
            except Exception:  # noqa: BLE001 - not replayed yet
                held = {}
            if held == final or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert held == final, "the primary does not hold the acknowledged state"
        listed_keys = [
            o["Key"]
            for p in client.get_paginator("list_objects_v2").paginate(Bucket="outage")
            for o in p["Contents"]
        ]
        assert listed_keys == sorted(final)
        for key, body in final.items():
            assert client.get_object(Bucket="outage", Key=key)["Body"].read() == body, key
        replayed = sum(metric(r, "s3bridge_fallback_journal_replayed_total", backend="fb") for r in replicas)
        assert replayed > 0


def lb_prefix(tmp_path: Path) -> Path:
    return tmp_path / "nginx"
