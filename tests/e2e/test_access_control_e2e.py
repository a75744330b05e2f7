"""Access control through the real gateway process with two key pairs, driven by boto3, minio-py and the
aws-cli, on the fs backend and on the s3 backend (moto) with a metadata bucket: owners, ACLs, ownership
controls, public-access blocks and bucket policies as S3 clients set them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest
import yaml

from gateway.identity import derived_canonical_id
from tests.helpers.clients import ACCESS_KEY, SECRET_KEY, boto3_client, cli_env
from tests.helpers.multi import s3_backend
from tests.helpers.procs import ServerProcess, gateway_server, moto_server

BOB = ("bob-e2e-key", "bob-e2e-secret-0123456789")
BOB_ID = "0b" * 32
ALICE_ID = derived_canonical_id(ACCESS_KEY)


@dataclass
class Stack:
    gateway: ServerProcess
    backend: str

    def client(self, pair: tuple[str, str] = (ACCESS_KEY, SECRET_KEY)) -> Any:
        return boto3_client(self.gateway.url, pair)

    def anonymous_get(self, bucket: str, key: str) -> httpx.Response:
        return httpx.get(f"{self.gateway.url}/{bucket}/{key}", timeout=10)


@pytest.fixture(scope="module", params=["fs", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp(f"acl-{request.param}")
    procs: list[ServerProcess] = []
    try:
        if request.param == "s3":
            moto = moto_server(log_path=root / "moto.log").start()
            procs.append(moto)
            backend = s3_backend(moto.url, meta_bucket="s3bridge-meta")
        else:
            backend = {"type": "fs", "root": str(root / "data"), "fsync": False}
        config = {
            "credentials": [
                {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "display_name": "alice"},
                {"access_key": BOB[0], "secret_key": BOB[1], "canonical_id": BOB_ID, "display_name": "bob",
                 "isolated": True},
            ],
            "backends": {"store": backend},
        }  # fmt: skip
        path = root / "gateway.yaml"
        path.write_text(yaml.safe_dump(config))
        gateway = gateway_server(config=path, log_path=root / "gateway.log").start()
        procs.append(gateway)
        yield Stack(gateway, request.param)
    finally:
        for proc in reversed(procs):
            proc.stop()


def code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def new_bucket(stack: Stack, *, open_acls: bool = False) -> str:
    """A bucket of Alice's; with ``open_acls`` ACLs enabled (ObjectWriter) and no public-access block."""
    alice = stack.client()
    name = f"acl-{uuid.uuid4().hex[:12]}"
    alice.create_bucket(Bucket=name)
    if open_acls:
        alice.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        )
        alice.delete_public_access_block(Bucket=name)
    return name


def test_owners_and_bucket_names_across_identities(stack: Stack) -> None:
    alice, bob = stack.client(), stack.client(BOB)
    name = new_bucket(stack)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bob.create_bucket(Bucket=name)
    assert code(err) == "BucketAlreadyExists"
    mine = f"bob-{uuid.uuid4().hex[:12]}"
    bob.create_bucket(Bucket=mine)
    listed = bob.list_buckets()
    assert listed["Owner"] == {"ID": BOB_ID, "DisplayName": "bob"}
    assert [b["Name"] for b in listed["Buckets"]] == [mine]
    assert alice.list_buckets()["Owner"]["ID"] == ALICE_ID
    assert bob.get_bucket_acl(Bucket=mine)["Owner"]["ID"] == BOB_ID
    bob.put_object(Bucket=mine, Key="k", Body=b"b", ExpectedBucketOwner=BOB_ID)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bob.get_object(Bucket=mine, Key="k", ExpectedBucketOwner=ALICE_ID)
    assert code(err) == "AccessDenied"
    assert bob.list_objects_v2(Bucket=mine, FetchOwner=True)["Contents"][0]["Owner"]["ID"] == BOB_ID
    for who, bucket in ((bob, name),):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            who.list_objects_v2(Bucket=bucket)
        assert code(err) == "AccessDenied"


def test_acls_with_boto3(stack: Stack) -> None:
    alice, bob = stack.client(), stack.client(BOB)
    enforced = new_bucket(stack)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        alice.put_object(Bucket=enforced, Key="k", Body=b"x", ACL="public-read")
    assert code(err) == "AccessControlListNotSupported"
    assert alice.get_bucket_ownership_controls(Bucket=enforced)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    assert alice.get_public_access_block(Bucket=enforced)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }  # fmt: skip

    name = new_bucket(stack, open_acls=True)
    alice.put_object(Bucket=name, Key="public.txt", Body=b"hello world", ACL="public-read")
    alice.put_object(Bucket=name, Key="private.txt", Body=b"secret")
    anon = stack.anonymous_get(name, "public.txt")
    assert anon.status_code == 200 and anon.content == b"hello world"
    assert stack.anonymous_get(name, "private.txt").status_code == 403
    grants = alice.get_object_acl(Bucket=name, Key="public.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ"} in grants  # fmt: skip

    with pytest.raises(botocore.exceptions.ClientError) as err:
        bob.get_object(Bucket=name, Key="private.txt")
    assert code(err) == "AccessDenied"
    alice.put_bucket_acl(Bucket=name, GrantRead=f"id={BOB_ID}", GrantFullControl=f"id={ALICE_ID}")
    assert [o["Key"] for o in bob.list_objects_v2(Bucket=name)["Contents"]] == ["private.txt", "public.txt"]
    acl = alice.get_bucket_acl(Bucket=name)
    assert {
        "Grantee": {"Type": "CanonicalUser", "ID": BOB_ID, "DisplayName": "bob"},
        "Permission": "READ",
    } in acl["Grants"]
    alice.put_object_acl(Bucket=name, Key="private.txt", GrantRead=f"id={BOB_ID}")
    assert bob.get_object(Bucket=name, Key="private.txt")["Body"].read() == b"secret"
    alice.put_object_acl(Bucket=name, Key="public.txt", ACL="private")
    assert stack.anonymous_get(name, "public.txt").status_code == 403

    policy = alice.get_bucket_acl(Bucket=name)
    policy["Grants"].append({"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                             "Permission": "READ"})  # fmt: skip
    alice.put_bucket_acl(
        Bucket=name, AccessControlPolicy={"Grants": policy["Grants"], "Owner": policy["Owner"]}
    )
    listing = httpx.get(f"{stack.gateway.url}/{name}?list-type=2", timeout=10)
    assert listing.status_code == 200 and b"private.txt" in listing.content


def test_policies_with_minio_py(stack: Stack) -> None:
    from minio import Minio

    name = new_bucket(stack)
    alice = stack.client()
    alice.put_object(Bucket=name, Key="pub/a.txt", Body=b"A")
    alice.put_object(Bucket=name, Key="priv/b.txt", Body=b"B")
    client = Minio(
        f"127.0.0.1:{stack.gateway.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False,
        region="us-east-1",
    )  # fmt: skip
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
             "Resource": [f"arn:aws:s3:::{name}/pub/*"]},
        ],
    }  # fmt: skip
    from minio.error import S3Error as MinioError

    with pytest.raises(MinioError) as err:  # BlockPublicPolicy, on for a new bucket
        client.set_bucket_policy(name, json.dumps(policy))
    assert err.value.code == "AccessDenied"
    alice.delete_public_access_block(Bucket=name)
    client.set_bucket_policy(name, json.dumps(policy))
    assert json.loads(client.get_bucket_policy(name)) == policy
    assert alice.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True
    assert stack.anonymous_get(name, "pub/a.txt").content == b"A"
    assert stack.anonymous_get(name, "priv/b.txt").status_code == 403
    with pytest.raises(MinioError) as err:
        client.set_bucket_policy(name, json.dumps({"Statement": [{"Effect": "Allow"}]}))
    assert err.value.code == "MalformedPolicy"
    client.delete_bucket_policy(name)
    assert stack.anonymous_get(name, "pub/a.txt").status_code == 403
    with pytest.raises(MinioError) as err:
        client.get_bucket_policy(name)
    assert err.value.code == "NoSuchBucketPolicy"


def test_policy_for_the_other_key_pair_with_boto3(stack: Stack) -> None:
    alice, bob = stack.client(), stack.client(BOB)
    name = new_bucket(stack)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::111122223333:user/{BOB[0]}"},
             "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{name}/bob/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{name}/*"},
        ],
    }  # fmt: skip
    alice.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    bob.put_object(Bucket=name, Key="bob/report", Body=b"r")
    assert bob.get_object(Bucket=name, Key="bob/report")["Body"].read() == b"r"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bob.put_object(Bucket=name, Key="alice/x", Body=b"r")
    assert code(err) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        alice.delete_object(Bucket=name, Key="bob/report")  # the explicit deny binds the owner too
    assert code(err) == "AccessDenied"
    assert alice.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is False
    alice.delete_bucket_policy(Bucket=name)
    alice.delete_object(Bucket=name, Key="bob/report")


def aws(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "awscli", "--endpoint-url", stack.gateway.url, *args]
    return subprocess.run(argv, env=cli_env(), capture_output=True, text=True, timeout=120)


def test_aws_cli_acls_and_policy(stack: Stack, tmp_path: Path) -> None:
    name = new_bucket(stack, open_acls=True)
    granted = aws(stack, "s3api", "put-bucket-acl", "--bucket", name, "--grant-read", f"id={BOB_ID}",
                  "--grant-full-control", f"id={ALICE_ID}")  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    shown = aws(stack, "s3api", "get-bucket-acl", "--bucket", name)
    assert shown.returncode == 0, shown.stderr
    grants = json.loads(shown.stdout)["Grants"]
    assert {
        "Grantee": {"DisplayName": "bob", "ID": BOB_ID, "Type": "CanonicalUser"},
        "Permission": "READ",
    } in grants
    stack.client(BOB).list_objects_v2(Bucket=name)
    refused = aws(
        stack, "s3api", "put-bucket-acl", "--bucket", name, "--acl", "public-read", "--grant-read", "id=x"
    )
    assert refused.returncode != 0 and "InvalidRequest" in refused.stderr
    document = tmp_path / "policy.json"
    document.write_text(json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "RestrictToTLSRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}],
    }))  # fmt: skip
    put = aws(stack, "s3api", "put-bucket-policy", "--bucket", name, "--policy", f"file://{document}")
    assert put.returncode == 0, put.stderr
    # The gateway is reached over plain http: every request but the owner's policy calls is now denied.
    listed = aws(stack, "s3api", "list-objects-v2", "--bucket", name)
    assert listed.returncode != 0 and "AccessDenied" in listed.stderr
    got = aws(stack, "s3api", "get-bucket-policy", "--bucket", name)
    assert got.returncode == 0 and json.loads(json.loads(got.stdout)["Policy"]) == json.loads(
        document.read_text()
    )
    assert aws(stack, "s3api", "delete-bucket-policy", "--bucket", name).returncode == 0
    assert aws(stack, "s3api", "list-objects-v2", "--bucket", name).returncode == 0


def test_without_a_metadata_bucket_settings_answer_not_implemented(tmp_path: Path) -> None:
    """The s3 backend with no ``meta_bucket``: buckets have the defaults (the first key pair owns them,
    ACLs disabled) and a call that would store a setting says which setting enables it."""
    with moto_server(log_path=tmp_path / "moto.log") as moto:
        path = tmp_path / "gateway.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
                    "backends": {"store": s3_backend(moto.url)},
                }
            )
        )
        with gateway_server(config=path, log_path=tmp_path / "gateway.log") as gateway:
            alice = boto3_client(gateway.url)
            alice.create_bucket(Bucket="plain")
            assert alice.get_bucket_acl(Bucket="plain")["Owner"]["ID"] == ALICE_ID
            with pytest.raises(botocore.exceptions.ClientError) as err:
                alice.put_bucket_policy(Bucket="plain", Policy=json.dumps({
                    "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                   "Resource": "arn:aws:s3:::plain/*"}]}))  # fmt: skip
            assert code(err) == "NotImplemented" and "meta_bucket" in err.value.response["Error"]["Message"]
            with pytest.raises(botocore.exceptions.ClientError) as err:
                alice.create_bucket(Bucket="writer", ObjectOwnership="ObjectWriter")
            assert code(err) == "NotImplemented"
            assert "writer" not in [b["Name"] for b in alice.list_buckets()["Buckets"]]
            with pytest.raises(botocore.exceptions.ClientError) as err:
                alice.put_object(Bucket="plain", Key="k", Body=b"x", ACL="public-read")
            assert code(err) == "AccessControlListNotSupported"
            alice.put_object(Bucket="plain", Key="k", Body=b"x", ACL="bucket-owner-full-control")
            with pytest.raises(botocore.exceptions.ClientError) as err:
                alice.get_bucket_policy(Bucket="plain")
            assert code(err) == "NoSuchBucketPolicy"


def test_the_metadata_bucket_is_out_of_every_clients_reach(stack: Stack) -> None:
    """The settings documents live in the s3 backend's meta_bucket: a client that could write there
    could forge another bucket's policy, one that could read there could copy it out. Every way in is
    AccessDenied, for the first key pair too, and the forged document never lands."""
    if stack.backend != "s3":
        pytest.skip("the fs backend keeps settings inside each bucket, out of any key's reach")
    alice = stack.client()
    victim = new_bucket(stack)
    alice.put_bucket_policy(Bucket=victim, Policy=json.dumps(deny_all_gets(victim)))
    forged = f"buckets/{victim}/policy"
    attempts = [
        lambda: alice.put_object(Bucket="s3bridge-meta", Key=forged, Body=b"{}"),
        lambda: alice.get_object(Bucket="s3bridge-meta", Key=forged),
        lambda: alice.list_objects_v2(Bucket="s3bridge-meta"),
        lambda: alice.delete_object(Bucket="s3bridge-meta", Key=forged),
        lambda: alice.create_bucket(Bucket="s3bridge-meta"),
        lambda: alice.copy_object(
            Bucket=victim, Key="stolen", CopySource={"Bucket": "s3bridge-meta", "Key": forged}
        ),
    ]
    for attempt in attempts:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            attempt()
        assert code(err) == "AccessDenied"
    assert json.loads(alice.get_bucket_policy(Bucket=victim)["Policy"]) == deny_all_gets(victim)


def deny_all_gets(bucket: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
