"""Access control in-process, over the fs backend with two identities: owners, ACLs, ownership controls,
public-access blocks and bucket policies decide who may do what, with S3's answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from gateway.identity import derived_canonical_id
from tests.helpers.answers import assert_s3_error
from tests.helpers.clients import ACCESS_KEY, SECRET_KEY
from tests.helpers.inproc import InProcessGateway

pytestmark = pytest.mark.anyio

BOB = ("bob-key", "bob-secret-0123456789")
BOB_ID = "b" * 64
ALICE_ID = derived_canonical_id(ACCESS_KEY)
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
OWNERSHIP_XML = (
    b'<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
    b"<ObjectOwnership>%s</ObjectOwnership></Rule></OwnershipControls>"
)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    """Alice (the first key pair: owner of unrecorded buckets) and Bob, an isolated identity of his own."""
    credentials = [
        {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "display_name": "alice"},
        {
            "access_key": BOB[0],
            "secret_key": BOB[1],
            "canonical_id": BOB_ID,
            "display_name": "bob",
            "isolated": True,
        },
    ]
    async with InProcessGateway.over(tmp_path, credentials=credentials) as gateway:
        yield gateway


def xml(response: httpx.Response) -> etree._Element:
    return etree.fromstring(response.content)


async def open_bucket(gw: InProcessGateway, bucket: str, ownership: bytes = b"ObjectWriter") -> None:
    """A bucket of Alice's with ACLs enabled and no public-access block, as a client sets one up on AWS."""
    assert (await gw.request("PUT", f"/{bucket}")).status_code == 200
    put = await gw.request(
        "PUT", f"/{bucket}", params={"ownershipControls": ""}, body=OWNERSHIP_XML % ownership
    )
    assert put.status_code == 200, put.text
    assert (await gw.request("DELETE", f"/{bucket}", params={"publicAccessBlock": ""})).status_code == 204


async def test_owner_is_the_creator_and_a_taken_name_answers_as_s3(gw: InProcessGateway) -> None:
    assert (await gw.request("PUT", "/bobs", pair=BOB)).status_code == 200
    mine = await gw.request("PUT", "/bobs", pair=BOB)
    assert mine.status_code == 200  # us-east-1: the owner's re-create answers 200, as S3
    assert_s3_error(await gw.request("PUT", "/bobs"), 409, "BucketAlreadyExists")
    acl = xml(await gw.request("GET", "/bobs", params={"acl": ""}, pair=BOB))
    assert acl.findtext(f"{NS}Owner/{NS}ID") == BOB_ID
    assert acl.findtext(f"{NS}Owner/{NS}DisplayName") == "bob"
    listed = xml(await gw.request("GET", "/", pair=BOB))
    assert [n.text for n in listed.iter(f"{NS}Name")] == ["bobs"]
    assert listed.findtext(f"{NS}Owner/{NS}ID") == BOB_ID
    await gw.request("PUT", "/bobs/k", body=b"x", pair=BOB)
    v1 = xml(await gw.request("GET", "/bobs", params={"list-type": "2", "fetch-owner": "true"}, pair=BOB))
    assert v1.findtext(f"{NS}Contents/{NS}Owner/{NS}ID") == BOB_ID


async def test_owner_recreate_outside_us_east_1_is_bucket_already_owned_by_you(tmp_path: Path) -> None:
    async with InProcessGateway.over(tmp_path, server={"region": "eu-west-1"}) as gateway:
        assert (await gateway.request("PUT", "/mine")).status_code == 200
        assert_s3_error(await gateway.request("PUT", "/mine"), 409, "BucketAlreadyOwnedByYou")


async def test_expected_bucket_owner_is_the_real_owner(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/bobs", pair=BOB)
    ok = await gw.request("GET", "/bobs", headers={"x-amz-expected-bucket-owner": BOB_ID}, pair=BOB)
    assert ok.status_code == 200
    wrong = await gw.request("GET", "/bobs", headers={"x-amz-expected-bucket-owner": ALICE_ID}, pair=BOB)
    assert_s3_error(wrong, 403, "AccessDenied")


async def test_isolated_identity_needs_a_grant(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/shared")
    await gw.request("PUT", "/shared/doc", body=b"hello")
    assert_s3_error(await gw.request("GET", "/shared/doc", pair=BOB), 403, "AccessDenied")
    assert_s3_error(await gw.request("GET", "/shared", pair=BOB), 403, "AccessDenied")
    assert "shared" not in (await gw.request("GET", "/", pair=BOB)).text


async def test_acls_are_refused_while_the_bucket_owner_enforces_ownership(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/enf")
    refused = await gw.request("PUT", "/enf/k", body=b"x", headers={"x-amz-acl": "public-read"})
    assert_s3_error(refused, 400, "AccessControlListNotSupported")
    for canned in ("private", "bucket-owner-full-control"):
        assert (
            await gw.request("PUT", "/enf/k", body=b"x", headers={"x-amz-acl": canned})
        ).status_code == 200
    put_acl = await gw.request("PUT", "/enf", params={"acl": ""}, headers={"x-amz-acl": "public-read"})
    assert_s3_error(put_acl, 400, "AccessControlListNotSupported")
    acl = xml(await gw.request("GET", "/enf", params={"acl": ""}))
    assert [g.text for g in acl.iter(f"{NS}Permission")] == ["FULL_CONTROL"]
    created = await gw.request("PUT", "/enf2", headers={"x-amz-acl": "public-read"})
    assert_s3_error(created, 400, "InvalidBucketAclWithObjectOwnership")


async def test_public_read_object_acl_lets_anyone_read(gw: InProcessGateway) -> None:
    await open_bucket(gw, "pub")
    put = await gw.request("PUT", "/pub/open", body=b"for all", headers={"x-amz-acl": "public-read"})
    assert put.status_code == 200, put.text
    await gw.request("PUT", "/pub/closed", body=b"mine")
    assert (await gw.request("GET", "/pub/open", signer=None)).content == b"for all"
    assert (await gw.request("GET", "/pub/open", pair=BOB)).content == b"for all"
    assert_s3_error(await gw.request("GET", "/pub/closed", signer=None), 403, "AccessDenied")
    assert_s3_error(await gw.request("PUT", "/pub/x", body=b"x", signer=None), 403, "AccessDenied")
    head = await gw.request("HEAD", "/pub/open")
    assert not any(h.startswith("x-amz-meta-") for h in head.headers)  # the record stays hidden
    acl = xml(await gw.request("GET", "/pub/open", params={"acl": ""}))
    assert [
        (g.findtext(f"{NS}Grantee/{NS}URI"), g.findtext(f"{NS}Permission")) for g in acl.iter(f"{NS}Grant")
    ] == [
        (None, "FULL_CONTROL"),
        ("http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
    ]


async def test_hidden_metadata_cannot_be_forged(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/forge")
    forged = await gw.request("PUT", "/forge/k", body=b"x", headers={"x-amz-meta-s3bridge-acl": "{}"})
    assert_s3_error(forged, 400, "InvalidArgument")


async def test_block_public_acls_and_ignore_public_acls(gw: InProcessGateway) -> None:
    await open_bucket(gw, "blk")
    await gw.request("PUT", "/blk/open", body=b"x", headers={"x-amz-acl": "public-read"})
    block = (
        b'<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>"
        b"</PublicAccessBlockConfiguration>"
    )
    assert (await gw.request("PUT", "/blk", params={"publicAccessBlock": ""}, body=block)).status_code == 200
    refused = await gw.request("PUT", "/blk/k", body=b"x", headers={"x-amz-acl": "public-read"})
    assert_s3_error(refused, 403, "AccessDenied")
    assert_s3_error(await gw.request("GET", "/blk/open", signer=None), 403, "AccessDenied")
    got = xml(await gw.request("GET", "/blk", params={"publicAccessBlock": ""}))
    assert [(el.tag.removeprefix(NS), el.text) for el in got] == [
        ("BlockPublicAcls", "true"), ("IgnorePublicAcls", "true"),
        ("BlockPublicPolicy", "false"), ("RestrictPublicBuckets", "false"),
    ]  # fmt: skip


async def test_grant_headers_and_bucket_acl_for_another_identity(gw: InProcessGateway) -> None:
    await open_bucket(gw, "team")
    grant = await gw.request(
        "PUT", "/team", params={"acl": ""},
        headers={"x-amz-grant-read": f'id="{BOB_ID}"', "x-amz-grant-full-control": f'id="{ALICE_ID}"'},
    )  # fmt: skip
    assert grant.status_code == 200, grant.text
    assert (await gw.request("GET", "/team", params={"list-type": "2"}, pair=BOB)).status_code == 200
    assert_s3_error(await gw.request("PUT", "/team/k", body=b"x", pair=BOB), 403, "AccessDenied")
    both = await gw.request(
        "PUT",
        "/team",
        params={"acl": ""},
        headers={"x-amz-acl": "private", "x-amz-grant-read": f'id="{BOB_ID}"'},
    )
    assert_s3_error(both, 400, "InvalidRequest")
    email = await gw.request(
        "PUT", "/team", params={"acl": ""}, headers={"x-amz-grant-read": 'emailAddress="a@b.c"'}
    )
    assert_s3_error(email, 400, "UnresolvableGrantByEmailAddress")
    unknown = await gw.request(
        "PUT", "/team", params={"acl": ""}, headers={"x-amz-grant-read": 'id="' + "c" * 64 + '"'}
    )
    assert_s3_error(unknown, 400, "InvalidArgument")
    bad = await gw.request("PUT", "/team", params={"acl": ""}, headers={"x-amz-acl": "world-readable"})
    assert_s3_error(bad, 400, "InvalidArgument")


async def test_access_control_policy_body(gw: InProcessGateway) -> None:
    await open_bucket(gw, "body")
    doc = (
        '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner}</ID></Owner>'
        '<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:type="CanonicalUser"><ID>{bob}</ID></Grantee><Permission>WRITE</Permission></Grant>'
        "</AccessControlList></AccessControlPolicy>"
    )
    put = await gw.request(
        "PUT", "/body", params={"acl": ""}, body=doc.format(owner=ALICE_ID, bob=BOB_ID).encode()
    )
    assert put.status_code == 200, put.text
    assert (await gw.request("PUT", "/body/from-bob", body=b"b", pair=BOB)).status_code == 200
    acl = xml(await gw.request("GET", "/body", params={"acl": ""}))
    assert acl.findtext(f"{NS}AccessControlList/{NS}Grant/{NS}Grantee/{NS}ID") == BOB_ID
    assert acl.findtext(f"{NS}AccessControlList/{NS}Grant/{NS}Grantee/{NS}DisplayName") == "bob"
    malformed = await gw.request("PUT", "/body", params={"acl": ""}, body=b"<AccessControlPolicy/>")
    assert_s3_error(malformed, 400, "MalformedACLError")
    both = await gw.request(
        "PUT", "/body", params={"acl": ""}, headers={"x-amz-acl": "private"},
        body=doc.format(owner=ALICE_ID, bob=BOB_ID).encode(),
    )  # fmt: skip
    assert_s3_error(both, 400, "UnexpectedContent")
    # ObjectWriter: Bob owns what he wrote (Alice's configured rights still reach it: she is not isolated).
    assert (await gw.request("GET", "/body/from-bob", pair=BOB)).content == b"b"
    owned = xml(await gw.request("GET", "/body/from-bob", params={"acl": ""}, pair=BOB))
    assert owned.findtext(f"{NS}Owner/{NS}ID") == BOB_ID


async def test_bucket_owner_full_control_hands_the_object_to_the_bucket_owner(gw: InProcessGateway) -> None:
    await open_bucket(gw, "pref", b"BucketOwnerPreferred")
    await gw.request("PUT", "/pref", params={"acl": ""}, headers={"x-amz-grant-write": f'id="{BOB_ID}"'})
    put = await gw.request(
        "PUT", "/pref/k", body=b"v", pair=BOB, headers={"x-amz-acl": "bucket-owner-full-control"}
    )
    assert put.status_code == 200, put.text
    assert (await gw.request("GET", "/pref/k")).content == b"v"
    ctl = xml(await gw.request("GET", "/pref", params={"ownershipControls": ""}))
    assert ctl.findtext(f"{NS}Rule/{NS}ObjectOwnership") == "BucketOwnerPreferred"


async def test_put_object_acl_rewrites_the_record(gw: InProcessGateway) -> None:
    await open_bucket(gw, "rew")
    await gw.request("PUT", "/rew/k", body=b"data", headers={"x-amz-meta-color": "blue"})
    assert_s3_error(await gw.request("GET", "/rew/k", signer=None), 403, "AccessDenied")
    put = await gw.request("PUT", "/rew/k", params={"acl": ""}, headers={"x-amz-acl": "public-read"})
    assert put.status_code == 200, put.text
    anon = await gw.request("GET", "/rew/k", signer=None)
    assert anon.content == b"data" and anon.headers["x-amz-meta-color"] == "blue"
    await gw.request("PUT", "/rew/k", params={"acl": ""}, headers={"x-amz-acl": "private"})
    assert_s3_error(await gw.request("GET", "/rew/k", signer=None), 403, "AccessDenied")


async def test_copy_gets_the_requested_acl_not_the_sources(gw: InProcessGateway) -> None:
    await open_bucket(gw, "cpy")
    await gw.request("PUT", "/cpy/src", body=b"s", headers={"x-amz-acl": "public-read"})
    await gw.request("PUT", "/cpy/dst", headers={"x-amz-copy-source": "/cpy/src"})
    assert_s3_error(await gw.request("GET", "/cpy/dst", signer=None), 403, "AccessDenied")
    await gw.request(
        "PUT", "/cpy/dst2", headers={"x-amz-copy-source": "/cpy/src", "x-amz-acl": "public-read"}
    )
    assert (await gw.request("GET", "/cpy/dst2", signer=None)).content == b"s"


async def test_multipart_upload_carries_its_acl(gw: InProcessGateway) -> None:
    await open_bucket(gw, "mpu")
    created = await gw.request(
        "POST", "/mpu/big", params={"uploads": ""}, headers={"x-amz-acl": "public-read"}
    )
    upload_id = xml(created).findtext(f"{NS}UploadId")
    part = await gw.request(
        "PUT", "/mpu/big", params={"partNumber": "1", "uploadId": upload_id}, body=b"p" * 10
    )
    done = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>"
    ).format(part.headers["etag"])
    assert (
        await gw.request("POST", "/mpu/big", params={"uploadId": upload_id}, body=done.encode())
    ).status_code == 200
    assert (await gw.request("GET", "/mpu/big", signer=None)).content == b"p" * 10


def policy(*statements: dict[str, object]) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()


async def test_bucket_policy_round_trip_and_status(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/pol")
    assert_s3_error(await gw.request("GET", "/pol", params={"policy": ""}), 404, "NoSuchBucketPolicy")
    public = policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pol/pub/*"}
    )
    blocked = await gw.request("PUT", "/pol", params={"policy": ""}, body=public)
    assert_s3_error(blocked, 403, "AccessDenied")  # BlockPublicPolicy, on by default for a new bucket
    await gw.request("DELETE", "/pol", params={"publicAccessBlock": ""})
    assert (await gw.request("PUT", "/pol", params={"policy": ""}, body=public)).status_code == 204
    assert (await gw.request("GET", "/pol", params={"policy": ""})).content == public
    status = xml(await gw.request("GET", "/pol", params={"policyStatus": ""}))
    assert status.findtext(f"{NS}IsPublic") == "true"
    await gw.request("PUT", "/pol/pub/a", body=b"A")
    await gw.request("PUT", "/pol/priv/b", body=b"B")
    assert (await gw.request("GET", "/pol/pub/a", signer=None)).content == b"A"
    assert_s3_error(await gw.request("GET", "/pol/priv/b", signer=None), 403, "AccessDenied")
    assert (await gw.request("DELETE", "/pol", params={"policy": ""})).status_code == 204
    assert_s3_error(await gw.request("GET", "/pol/pub/a", signer=None), 403, "AccessDenied")


async def test_policy_deny_wins_and_owner_keeps_the_policy(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/deny")
    await gw.request("PUT", "/deny/k", body=b"x")
    deny = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::deny", "arn:aws:s3:::deny/*"],
        }
    )
    assert (await gw.request("PUT", "/deny", params={"policy": ""}, body=deny)).status_code == 204
    assert_s3_error(await gw.request("GET", "/deny/k"), 403, "AccessDenied")
    assert (await gw.request("GET", "/deny", params={"policy": ""})).status_code == 200
    assert (await gw.request("DELETE", "/deny", params={"policy": ""})).status_code == 204
    assert (await gw.request("GET", "/deny/k")).content == b"x"


async def test_policy_grants_one_prefix_to_another_identity(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/home")
    allow = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::123456789012:user/{BOB[0]}"},
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::home/bob/*",
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": [BOB[0]]},
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::home",
            "Condition": {"StringLike": {"s3:prefix": "bob/*"}},
        },
    )
    assert (await gw.request("PUT", "/home", params={"policy": ""}, body=allow)).status_code == 204
    assert (await gw.request("PUT", "/home/bob/notes", body=b"n", pair=BOB)).status_code == 200
    assert_s3_error(await gw.request("PUT", "/home/alice/x", body=b"n", pair=BOB), 403, "AccessDenied")
    listed = await gw.request("GET", "/home", params={"list-type": "2", "prefix": "bob/"}, pair=BOB)
    assert listed.status_code == 200
    assert_s3_error(
        await gw.request("GET", "/home", params={"list-type": "2"}, pair=BOB), 403, "AccessDenied"
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"not json", "valid JSON"),
        (policy({"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bad/*"}), "effect"),
        (policy({"Effect": "Allow", "Principal": {"AWS": "nobody"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bad/*"}), "principal"),
        (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:Fly", "Resource": "arn:aws:s3:::bad/*"}), "action"),
        (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}), "resource"),
        (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bad"}), "does not apply"),
        (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bad/*",
                 "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}), "condition key"),
    ],
)  # fmt: skip
async def test_malformed_policies_are_refused_naming_the_problem(
    gw: InProcessGateway, document: bytes, problem: str
) -> None:
    await gw.request("PUT", "/bad")
    await gw.request("DELETE", "/bad", params={"publicAccessBlock": ""})
    refused = await gw.request("PUT", "/bad", params={"policy": ""}, body=document)
    assert_s3_error(refused, 400, "MalformedPolicy")
    assert problem.lower() in xml(refused).findtext("Message").lower()


async def test_delete_objects_decides_each_key(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/bulk")
    for key in ("keep/a", "tmp/b"):
        await gw.request("PUT", f"/bulk/{key}", body=b"x")
    deny = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteObject",
            "Resource": "arn:aws:s3:::bulk/keep/*",
        }
    )
    assert (await gw.request("PUT", "/bulk", params={"policy": ""}, body=deny)).status_code == 204
    body = b"<Delete><Object><Key>keep/a</Key></Object><Object><Key>tmp/b</Key></Object></Delete>"
    answer = xml(await gw.request("POST", "/bulk", params={"delete": ""}, body=body))
    assert answer.findtext(f"{NS}Error/{NS}Key") == "keep/a"
    assert answer.findtext(f"{NS}Error/{NS}Code") == "AccessDenied"
    assert answer.findtext(f"{NS}Deleted/{NS}Key") == "tmp/b"
    assert (await gw.request("HEAD", "/bulk/keep/a")).status_code == 200
    # Bob (isolated, no grant) deletes nothing, key by key.
    answer = xml(await gw.request("POST", "/bulk", params={"delete": ""}, body=body, pair=BOB))
    assert [e.text for e in answer.iter(f"{NS}Code")] == ["AccessDenied", "AccessDenied"]


async def test_upload_part_copy_needs_read_on_the_source(gw: InProcessGateway) -> None:
    await gw.request("PUT", "/srcb")
    await gw.request("PUT", "/srcb/secret", body=b"s" * 10)
    await gw.request("PUT", "/dstb", pair=BOB)
    created = await gw.request("POST", "/dstb/k", params={"uploads": ""}, pair=BOB)
    upload_id = xml(created).findtext(f"{NS}UploadId")
    copied = await gw.request(
        "PUT", "/dstb/k", params={"partNumber": "1", "uploadId": upload_id},
        headers={"x-amz-copy-source": "/srcb/secret"}, pair=BOB,
    )  # fmt: skip
    assert_s3_error(copied, 403, "AccessDenied")
    copy = await gw.request("PUT", "/dstb/c", headers={"x-amz-copy-source": "/srcb/secret"}, pair=BOB)
    assert_s3_error(copy, 403, "AccessDenied")


async def test_object_writer_owns_what_it_writes_in_another_identitys_bucket(gw: InProcessGateway) -> None:
    assert (await gw.request("PUT", "/bobw", pair=BOB)).status_code == 200
    await gw.request(
        "PUT", "/bobw", params={"ownershipControls": ""}, body=OWNERSHIP_XML % b"ObjectWriter", pair=BOB
    )
    assert (await gw.request("PUT", "/bobw/by-alice", body=b"a")).status_code == 200  # Alice: not isolated
    owned = xml(await gw.request("GET", "/bobw/by-alice", params={"acl": ""}))
    assert owned.findtext(f"{NS}Owner/{NS}ID") == ALICE_ID
    assert_s3_error(await gw.request("GET", "/bobw/by-alice", pair=BOB), 403, "AccessDenied")


async def test_anonymous_form_upload_allowed_by_bucket_policy_only(gw: InProcessGateway) -> None:
    """A browser form without any signature lands only where the bucket policy lets everyone
    s3:PutObject under a prefix; elsewhere in the same bucket it is AccessDenied, and nothing is stored."""
    await open_bucket(gw, "inbox")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::inbox/uploads/*",
            }
        ],
    }
    put = await gw.request("PUT", "/inbox", params={"policy": ""}, body=json.dumps(policy).encode())
    assert put.status_code == 204, put.text
    allowed = await gw.client.post("/inbox", data={"key": "uploads/a.txt"}, files={"file": ("a", b"hi")})
    assert allowed.status_code == 204, allowed.text
    assert (await gw.request("GET", "/inbox/uploads/a.txt")).content == b"hi"
    refused = await gw.client.post("/inbox", data={"key": "other/a.txt"}, files={"file": ("a", b"no")})
    assert_s3_error(refused, 403, "AccessDenied")
    assert_s3_error(await gw.request("HEAD", "/inbox/other/a.txt"), 404, "NoSuchKey")
