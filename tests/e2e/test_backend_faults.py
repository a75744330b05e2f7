"""Store failures seen through the real gateway: a store process killed before and during requests, and
a store that refuses the gateway's credentials.

The gateway must answer what S3 answers for a failing service (503 with S3 XML and a request id, which
clients retry), or cut a GET whose body had already started, in bounded time: never hang, never answer
500 with a traceback. A store refusing our secret is the operator's problem: the client gets a plain 403
AccessDenied, and the gateway's log names the backend without ever printing the secret.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.faults import KillingBody
from tests.helpers.procs import ServerProcess, gateway_server, moto_server
from tests.helpers.stores import STORE_SK, store_and_backend

MiB = 1024 * 1024
#: Longest a request to a dead store may take: connect refused is immediate, retries are bounded.
BOUND_S = 20.0
RETRYABLE = {"ServiceUnavailable", "SlowDown"}


def _gateway(root: Path, name: str, backend_yaml: str) -> ServerProcess:
    config = root / "gateway.yaml"
    config.write_text(
        f"credentials:\n  - access_key: {ACCESS_KEY}\n    secret_key: {SECRET_KEY}\n"
        f"backends:\n  {name}:\n    {backend_yaml}"
    )
    return gateway_server(config=config, log_path=root / "gateway.log").start()


def _log(gateway: ServerProcess) -> str:
    assert gateway.log_path is not None
    return gateway.log_path.read_text(errors="replace")


def _client_error(call: Any, *args: Any, **kw: Any) -> tuple[botocore.exceptions.ClientError, float]:
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(*args, **kw)
    return err.value, time.monotonic() - started


def _assert_retryable(err: botocore.exceptions.ClientError, elapsed: float, *, has_body: bool = True) -> None:
    meta = err.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 503, err.response
    assert meta["HTTPHeaders"].get("x-amz-request-id"), "an S3 error carries a request id"
    if has_body:  # HEAD answers carry no XML; the status alone tells the client
        assert err.response["Error"]["Code"] in RETRYABLE, err.response
    assert elapsed < BOUND_S, f"took {elapsed:.1f}s"


@pytest.fixture
def moto_stack(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    store = moto_server(log_path=tmp_path / "store.log").start()
    gateway = None
    try:
        gateway = _gateway(
            tmp_path,
            "moto-store",
            f"type: s3\n    endpoint: {store.url}\n    access_key: ak\n    secret_key: {STORE_SK}\n"
            "    connect_timeout: 3\n    read_timeout: 10\n",
        )
        yield store, gateway
    finally:
        if gateway is not None:
            gateway.stop()
        store.stop()


def test_s3_store_dead_before_requests(moto_stack: tuple[ServerProcess, ServerProcess]) -> None:
    store, gateway = moto_stack
    s3 = make_client(gateway.url)
    bucket = f"f-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    store.kill()
    _assert_retryable(*_client_error(s3.get_object, Bucket=bucket, Key="k"))
    _assert_retryable(*_client_error(s3.put_object, Bucket=bucket, Key="k2", Body=b"x" * 1000))
    _assert_retryable(*_client_error(s3.list_objects_v2, Bucket=bucket))
    _assert_retryable(*_client_error(s3.create_multipart_upload, Bucket=bucket, Key="m"))
    _assert_retryable(*_client_error(s3.head_object, Bucket=bucket, Key="k"), has_body=False)
    err, _ = _client_error(s3.get_object, Bucket=bucket, Key="k")
    assert err.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after"), "503 tells when to retry"
    log = _log(gateway)
    assert "Traceback" not in log and "moto-store" in log, log[-3000:]


def test_s3_store_killed_during_put(moto_stack: tuple[ServerProcess, ServerProcess]) -> None:
    store, gateway = moto_stack
    s3 = make_client(gateway.url)
    bucket = f"f-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = KillingBody(96 * MiB, store, kill_at=16 * MiB)
    err, elapsed = _client_error(s3.put_object, Bucket=bucket, Key="cut", Body=body, ContentLength=body.size)
    assert body.killed.is_set(), "the store was killed while the body was on the wire"
    _assert_retryable(err, elapsed)
    _assert_retryable(*_client_error(s3.head_bucket, Bucket=bucket), has_body=False)
    log = _log(gateway)
    assert "Traceback" not in log and "BackendUnavailable" in log, log[-3000:]


def test_s3_store_killed_during_get(moto_stack: tuple[ServerProcess, ServerProcess], tmp_path: Path) -> None:
    store, gateway = moto_stack
    direct = make_client(store.url)
    bucket = f"f-{uuid.uuid4().hex[:10]}"
    direct.create_bucket(Bucket=bucket)
    size = 128 * MiB  # more than every socket buffer between store and client can hold
    direct.upload_fileobj(KillingBody(size, store, kill_at=size + 1), bucket, "big")
    s3 = make_client(gateway.url)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == size
    stream = got["Body"]
    received = len(stream.read(MiB))
    store.kill()
    started = time.monotonic()
    with pytest.raises((botocore.exceptions.BotoCoreError, ConnectionError)):
        for chunk in stream.iter_chunks(MiB):
            received += len(chunk)
            assert time.monotonic() - started < BOUND_S, "the cut GET does not end"
    assert received < size, "the body was cut, not completed"
    assert time.monotonic() - started < BOUND_S
    log = _log(gateway)
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize("kind", ["oss-v4", "obs"])
def test_wrong_store_secret_is_access_denied(kind: str, tmp_path: Path) -> None:
    store, backend_yaml = store_and_backend(kind, tmp_path)
    wrong = "Wr0ng-" + uuid.uuid4().hex
    name = f"{kind.split('-')[0]}-hangzhou-7"
    gateway = None
    try:
        gateway = _gateway(tmp_path, name, backend_yaml.replace(STORE_SK, wrong))
        s3 = make_client(gateway.url)
        outcomes: dict[str, tuple[int, str]] = {}
        for call, kw in (
            (s3.list_buckets, {}),
            (s3.create_bucket, {"Bucket": "denied-bucket"}),
            (s3.put_object, {"Bucket": "denied-bucket", "Key": "k", "Body": b"data"}),
            (s3.get_object, {"Bucket": "denied-bucket", "Key": "k"}),
        ):
            err, elapsed = _client_error(call, **kw)
            meta = err.response["ResponseMetadata"]
            outcomes[err.operation_name] = (meta["HTTPStatusCode"], err.response["Error"]["Code"])
            assert meta["HTTPHeaders"].get("x-amz-request-id") and elapsed < BOUND_S
            assert wrong not in str(err.response)
        assert outcomes == {op: (403, "AccessDenied") for op in outcomes}, outcomes
        log = _log(gateway)
        warned = [
            line for line in log.splitlines() if " WARNING s3bridge " in line and "AccessDenied" in line
        ]
        assert len(warned) == len(outcomes) and all(f"[{name}]" in line for line in warned), log[-3000:]
        assert wrong not in log and STORE_SK not in log
        assert "Traceback" not in log
    finally:
        if gateway is not None:
            gateway.stop()
        store.stop()
