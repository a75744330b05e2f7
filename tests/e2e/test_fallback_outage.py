"""A fallback that converges after an outage, as a client and an operator see it (issue 16, seed 004).

Three gateway processes share one configuration: a fallback whose primary is a second s3bridge process
(an S3 store on its own fs root, reached through the s3 backend) and whose secondary is an fs root the
three share, with the outage journal in it. 200 mixed writes, overwrites and deletes go through the three
gateways, each retried by the application until acknowledged (a delete of a missing key is success, as
the user's script has it); the primary's process is killed with SIGKILL after 60 and started again on the
same port and root after 130. Afterwards the journal must drain (bounded wait) and the primary alone
must hold exactly the acknowledged final state: the same keys, each with the SHA-256 of its last
acknowledged body.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.helpers.bodies import pattern
from tests.helpers.journal import wait_drained
from tests.helpers.multi import (
    STORE_AK,
    STORE_SK,
    body_sha256,
    direct_client,
    metric,
    processes,
    retrying_client,
    s3_backend,
    served,
    start_gateway,
    write_config,
)
from tests.helpers.procs import ServerProcess, free_port, gateway_server

OPS, KILL_AT, REVIVE_AT, KEYS, WORKERS = 200, 60, 130, 40, 4
BUCKET = "outage"


def primary_store(root: Path, port: int) -> ServerProcess:
    """The primary: an s3bridge on its own fs root; started again on the same port keeps its data."""
    root.mkdir(parents=True, exist_ok=True)
    return gateway_server(
        port, data_dir=root / "data", access_key=STORE_AK, secret_key=STORE_SK, log_path=root / "store.log"
    ).start()


def backends(store_url: str, local: Path) -> dict[str, dict[str, Any]]:
    return {
        "fb": {
            "type": "fallback",
            "primary": "primary",
            "secondary": "local",
            "breaker": {"failure_threshold": 2, "reset_timeout": 0.5},
            "journal": {"reconcile_interval": 0.2, "lease_ttl": 10},
        },
        "remote": s3_backend(store_url, connect_timeout=1, read_timeout=5),
        "primary": {
            "type": "retry",
            "backend": "remote",
            "attempts": 3,
            "base_delay": 0.01,
            "max_delay": 0.05,
        },
        "local": {"type": "fs", "root": str(local), "fsync": False},
    }


def plan() -> list[tuple[int, str, bytes | None]]:
    """(n, key, body or None for a delete): puts, overwrites and deletes over 40 keys."""
    rng = random.Random(16004)
    ops: list[tuple[int, str, bytes | None]] = []
    for n in range(OPS):
        key = f"k/{rng.randrange(KEYS):02d}"
        body = None if rng.random() < 0.3 else pattern(rng.randrange(1, 64_000), seed=n)
        ops.append((n, key, body))
    return ops


def test_outage_converges_on_the_primary(tmp_path: Path) -> None:
    with processes() as procs:
        port = free_port()
        store = primary_store(tmp_path / "primary", port)
        procs.append(store)
        config = write_config(tmp_path / "gateway.yaml", backends(store.url, tmp_path / "local"))
        gateways = [start_gateway(config, tmp_path / f"gateway{i}.log") for i in range(3)]
        procs.extend(gateways)
        clients = [retrying_client(g.url) for g in gateways]
        clients[0].create_bucket(Bucket=BUCKET)

        final: dict[str, str | None] = {}  # key -> sha256 of the acknowledged body, None when deleted
        failures: list[str] = []
        progress = threading.Condition()
        done = [0]
        revived = threading.Event()

        def apply(n: int, key: str, body: bytes | None) -> None:
            client = clients[n % 3]
            for _ in range(10):  # the application retries until the store acknowledges
                try:
                    if body is None:
                        client.delete_object(Bucket=BUCKET, Key=key)
                    else:
                        client.put_object(Bucket=BUCKET, Key=key, Body=body)
                    return
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                    last = repr(exc)
                    time.sleep(0.3)
            failures.append(f"op {n} on {key}: {last}")

        def worker(w: int, ops: list[tuple[int, str, bytes | None]]) -> None:
            for n, key, body in ops:
                if n >= REVIVE_AT:
                    assert revived.wait(timeout=120), "the primary was not brought back"
                apply(n, key, body)
                with progress:
                    final[key] = None if body is None else hashlib.sha256(body).hexdigest()
                    done[0] += 1
                    progress.notify_all()

        def wait_for(count: int) -> None:
            with progress:
                assert progress.wait_for(lambda: done[0] >= count, timeout=180), "operations stalled"

        ops = plan()
        owned = [[op for op in ops if int(op[1][2:]) % WORKERS == w] for w in range(WORKERS)]
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = [pool.submit(worker, w, owned[w]) for w in range(WORKERS)]
            try:
                wait_for(KILL_AT)
                store.kill()  # SIGKILL: the primary store's process is gone, requests in flight included
                wait_for(REVIVE_AT)
                store = primary_store(tmp_path / "primary", port)
                procs.append(store)
            finally:
                revived.set()
            for f in futures:
                f.result(timeout=300)
        assert failures == []

        outage_ops = sum(metric(g, "s3bridge_backend_fallbacks_total", backend="fb") for g in gateways)
        assert outage_ops > 0, "nothing fell back while the primary was down"

        # The journal drains (bounded wait), every gateway sees it, and between them they replayed it.
        wait_drained(tmp_path / "local", gateways)
        replayed = [metric(g, "s3bridge_fallback_journal_replayed_total", backend="fb") for g in gateways]
        assert sum(replayed) > 0, replayed

        # The primary alone holds exactly the acknowledged final state.
        direct = direct_client(store.url)
        live = {k: digest for k, digest in final.items() if digest is not None}
        listed = {
            o["Key"]
            for page in direct.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])
        }
        assert listed == set(live), (sorted(listed - set(live)), sorted(set(live) - listed))
        for key, digest in sorted(live.items()):
            assert body_sha256(direct.get_object(Bucket=BUCKET, Key=key)) == digest, key

        # Every gateway reads it back, from the primary again once the journal's index is swept too.
        for i, (key, digest) in enumerate(sorted(live.items())):
            for _ in range(20):
                got = clients[i % 3].get_object(Bucket=BUCKET, Key=key)
                assert body_sha256(got) == digest, key
                if served(got) == "primary":
                    break
                time.sleep(0.5)
            assert served(got) == "primary", key
        for key in sorted(set(final) - set(live)):
            with pytest.raises(botocore.exceptions.ClientError) as err:
                clients[0].head_object(Bucket=BUCKET, Key=key)
            assert err.value.response["Error"]["Code"] in ("404", "NoSuchKey"), key
