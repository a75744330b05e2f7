"""Each gateway operation as IAM and ACLs name it: the policy action, what it acts on, and the ACL
permission that allows it (one table, pure data).

``on`` says which resource the operation touches (the bucket's ARN or the object's) and which ACL is
consulted. ``permission`` None means no ACL grant allows it: only the bucket owner (or a bucket policy,
or configured rights) may. An operation missing from the table is decided by configured rights and the
bucket policy's explicit denies alone; ``GetBucketConfig`` is resolved by its sub-resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.acl import Permission


@dataclass(frozen=True)
class Action:
    name: str
    on: Literal["service", "bucket", "object"]
    permission: Permission | None


def _b(name: str, permission: Permission | None = None) -> Action:
    return Action(name, "bucket", permission)


def _o(name: str, permission: Permission | None) -> Action:
    return Action(name, "object", permission)


ACTIONS: dict[str, Action] = {
    "ListBuckets": Action("s3:ListAllMyBuckets", "service", None),
    "CreateBucket": _b("s3:CreateBucket"),
    "DeleteBucket": _b("s3:DeleteBucket"),
    "HeadBucket": _b("s3:ListBucket", "READ"),
    "ListObjects": _b("s3:ListBucket", "READ"),
    "ListObjectsV2": _b("s3:ListBucket", "READ"),
    "ListObjectVersions": _b("s3:ListBucketVersions", "READ"),
    "ListMultipartUploads": _b("s3:ListBucketMultipartUploads", "READ"),
    "GetBucketLocation": _b("s3:GetBucketLocation"),
    "GetBucketVersioning": _b("s3:GetBucketVersioning"),
    "GetBucketAcl": _b("s3:GetBucketAcl", "READ_ACP"),
    "PutBucketAcl": _b("s3:PutBucketAcl", "WRITE_ACP"),
    "GetBucketPolicy": _b("s3:GetBucketPolicy"),
    "PutBucketPolicy": _b("s3:PutBucketPolicy"),
    "DeleteBucketPolicy": _b("s3:DeleteBucketPolicy"),
    "GetBucketPolicyStatus": _b("s3:GetBucketPolicyStatus"),
    "GetBucketOwnershipControls": _b("s3:GetBucketOwnershipControls"),
    "PutBucketOwnershipControls": _b("s3:PutBucketOwnershipControls"),
    "DeleteBucketOwnershipControls": _b("s3:PutBucketOwnershipControls"),
    "GetPublicAccessBlock": _b("s3:GetBucketPublicAccessBlock"),
    "PutPublicAccessBlock": _b("s3:PutBucketPublicAccessBlock"),
    "DeletePublicAccessBlock": _b("s3:PutBucketPublicAccessBlock"),
    "DeleteObjects": _b("s3:DeleteObject", "WRITE"),
    "PutObject": _o("s3:PutObject", "WRITE"),
    "CopyObject": _o("s3:PutObject", "WRITE"),
    "CreateMultipartUpload": _o("s3:PutObject", "WRITE"),
    "UploadPart": _o("s3:PutObject", "WRITE"),
    "UploadPartCopy": _o("s3:PutObject", "WRITE"),
    "CompleteMultipartUpload": _o("s3:PutObject", "WRITE"),
    "AbortMultipartUpload": _o("s3:AbortMultipartUpload", "WRITE"),
    "ListParts": _o("s3:ListMultipartUploadParts", "WRITE"),
    "DeleteObject": _o("s3:DeleteObject", "WRITE"),
    "GetObject": _o("s3:GetObject", "READ"),
    "HeadObject": _o("s3:GetObject", "READ"),
    "GetObjectAcl": _o("s3:GetObjectAcl", "READ_ACP"),
    "PutObjectAcl": _o("s3:PutObjectAcl", "WRITE_ACP"),
    "GetObjectTagging": _o("s3:GetObjectTagging", "READ"),
}

#: Operations whose WRITE permission is the bucket's, not the object's (S3 checks the bucket ACL for
#: writes into it); the rest of ``on == "object"`` consult the object's ACL.
BUCKET_ACL_WRITES = frozenset(
    n for n, a in ACTIONS.items() if a.on == "object" and a.permission == "WRITE"
) | {"DeleteObjects"}

#: GetBucketConfig's sub-resource → its action.
CONFIG_READS: dict[str, str] = {
    "policy": "s3:GetBucketPolicy",
    "lifecycle": "s3:GetLifecycleConfiguration",
    "cors": "s3:GetBucketCORS",
    "tagging": "s3:GetBucketTagging",
    "encryption": "s3:GetEncryptionConfiguration",
}

#: Every action name a policy may name without a wildcard: the table's, and the rest of S3's common ones
#: (a policy may grant what the gateway does not serve yet; it is still a valid policy).
KNOWN_ACTIONS: frozenset[str] = frozenset(
    {a.name for a in ACTIONS.values()}
    | set(CONFIG_READS.values())
    | {
        "s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:DeleteObjectTagging",
        "s3:GetObjectVersionTagging", "s3:PutBucketTagging", "s3:PutBucketCORS", "s3:PutLifecycleConfiguration",
        "s3:PutEncryptionConfiguration", "s3:PutBucketVersioning", "s3:GetObjectAttributes",
        "s3:GetObjectVersionAcl", "s3:PutObjectVersionAcl", "s3:GetObjectRetention", "s3:PutObjectRetention",
        "s3:GetObjectLegalHold", "s3:PutObjectLegalHold", "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration", "s3:BypassGovernanceRetention", "s3:RestoreObject",
        "s3:GetBucketWebsite", "s3:PutBucketWebsite", "s3:DeleteBucketWebsite", "s3:GetBucketLogging",
        "s3:PutBucketLogging", "s3:GetBucketNotification", "s3:PutBucketNotification",
        "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration", "s3:GetBucketRequestPayment",
        "s3:PutBucketRequestPayment", "s3:GetAccelerateConfiguration", "s3:PutAccelerateConfiguration",
        "s3:GetObjectTorrent", "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging",
    }
)  # fmt: skip
#: Known object-level actions (the rest are bucket-level): a statement naming only these needs an
#: object resource (``arn:aws:s3:::bucket/...``).
OBJECT_ACTIONS: frozenset[str] = frozenset(
    {a.name for a in ACTIONS.values() if a.on == "object"}
    | {n for n in KNOWN_ACTIONS if "Object" in n and "Bucket" not in n and "ObjectLockConfiguration" not in n}
    | {"s3:RestoreObject", "s3:BypassGovernanceRetention"}
)


def action_of(operation: str, query: dict[str, str] | None = None) -> Action | None:
    if operation == "GetBucketConfig" and query is not None:
        for sub, name in CONFIG_READS.items():
            if sub in query:
                return _b(name)
    return ACTIONS.get(operation)
