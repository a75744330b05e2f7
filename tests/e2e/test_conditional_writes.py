"""Conditional writes through the real gateway with boto3: racing ``If-None-Match: *`` PUTs on one key
have exactly one winner, across the worker processes of one gateway sharing one fs root."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.procs import ServerProcess, gateway_server, running

RACERS = 32


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("condput")
    yield from running(
        gateway_server(
            data_dir=base / "data",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            extra_args=["--workers", "2"],
            log_path=base / "gateway.log",
        )
    )


def _status(exc: botocore.exceptions.ClientError) -> int:
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def test_racing_if_none_match_puts_have_one_winner(two_workers: ServerProcess) -> None:
    s3 = make_client(two_workers.url, max_pool_connections=RACERS)  # one attempt each: no client retry
    bucket = f"race-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    bodies = [f"writer {n} ".encode() * (100 + n) for n in range(RACERS)]

    def put(n: int) -> int:
        try:
            s3.put_object(Bucket=bucket, Key="commit.json", Body=bodies[n], IfNoneMatch="*")
        except botocore.exceptions.ClientError as exc:
            return _status(exc)
        return 200

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = list(pool.map(put, range(RACERS)))
    assert sorted(statuses) == [200] + [412] * (RACERS - 1), statuses
    winner = statuses.index(200)
    assert s3.get_object(Bucket=bucket, Key="commit.json")["Body"].read() == bodies[winner]

    # If-Match: a stale ETag loses, the current one wins.
    current = s3.head_object(Bucket=bucket, Key="commit.json")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(
            Bucket=bucket, Key="commit.json", Body=b"next", IfMatch='"0123456789abcdef0123456789abcdef"'
        )
    assert _status(err.value) == 412
    s3.put_object(Bucket=bucket, Key="commit.json", Body=b"next", IfMatch=current)
    assert s3.get_object(Bucket=bucket, Key="commit.json")["Body"].read() == b"next"
