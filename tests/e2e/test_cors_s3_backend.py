"""CORS rules and a browser form upload on the s3 backend (moto's S3 server as the store), the rules kept
in the backend's metadata bucket: a second gateway process over the same store sees them, as a replica
behind a load balancer would; without a metadata bucket PutBucketCors says which setting enables it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from botocore.exceptions import ClientError

from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, make_client
from tests.helpers.procs import ServerProcess, gateway_server, moto_server

ORIGIN = "https://app.example"
RULES = {
    "CORSRules": [{"AllowedOrigins": [ORIGIN], "AllowedMethods": ["POST", "GET"], "AllowedHeaders": ["*"]}]
}


def _gateway(base: Path, name: str, store: str, meta_bucket: str | None) -> ServerProcess:
    backend: dict[str, Any] = {
        "type": "s3",
        "endpoint": store,
        "access_key": "moto",
        "secret_key": "moto-secret",
    }
    if meta_bucket:
        backend["meta_bucket"] = meta_bucket
    config = base / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
                "backends": {"store": backend},
            }
        )
    )
    return gateway_server(
        config=config, access_key=ACCESS_KEY, secret_key=SECRET_KEY, log_path=base / f"{name}.log"
    )


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, ServerProcess, ServerProcess]]:
    base = tmp_path_factory.mktemp("cors-s3")
    moto = moto_server(log_path=base / "moto.log").start()
    servers = [moto]
    try:
        for name, meta in (("one", "s3bridge-meta"), ("two", "s3bridge-meta"), ("bare", None)):
            servers.append(_gateway(base, name, moto.url, meta).start())
        yield servers[1], servers[2], servers[3]
    finally:
        for server in reversed(servers):
            server.stop()


def test_rules_in_the_metadata_bucket_serve_every_replica(stack: tuple[ServerProcess, ...]) -> None:
    one, two, _ = stack
    s3 = make_client(one.url)
    s3.create_bucket(Bucket="cors-s3")
    s3.put_bucket_cors(Bucket="cors-s3", CORSConfiguration=RULES)
    assert make_client(two.url).get_bucket_cors(Bucket="cors-s3")["CORSRules"] == RULES["CORSRules"]
    preflight = httpx.options(
        f"{two.url}/cors-s3", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN

    form = make_client(two.url, signature_version="s3v4").generate_presigned_post(
        "cors-s3", "f.bin", ExpiresIn=300
    )
    body = bytes(range(256)) * 4096
    posted = httpx.post(
        form["url"], data=form["fields"], files={"file": ("f", body)}, headers={"Origin": ORIGIN}
    )
    assert posted.status_code == 204, posted.text
    assert posted.headers["access-control-allow-origin"] == ORIGIN
    assert s3.get_object(Bucket="cors-s3", Key="f.bin")["Body"].read() == body

    s3.delete_bucket_cors(Bucket="cors-s3")
    deadline = time.monotonic() + 10  # the other replica's settings cache lets it go within 2 s
    while time.monotonic() < deadline:
        gone = httpx.options(
            f"{two.url}/cors-s3", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        if gone.status_code == 403:
            break
        time.sleep(0.25)
    assert gone.status_code == 403, gone.text


def test_without_a_metadata_bucket_cors_is_not_implemented(stack: tuple[ServerProcess, ...]) -> None:
    bare = make_client(stack[2].url)
    bare.create_bucket(Bucket="cors-bare")
    with pytest.raises(ClientError) as err:
        bare.put_bucket_cors(Bucket="cors-bare", CORSConfiguration=RULES)
    assert err.value.response["Error"]["Code"] == "NotImplemented"
    assert "meta_bucket" in err.value.response["Error"]["Message"]
    # nothing was ever set there: a preflight is refused as for any bucket without rules
    refused = httpx.options(
        f"{stack[2].url}/cors-bare", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 403
