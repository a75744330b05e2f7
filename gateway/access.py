"""May this caller do this: the one authorisation decision, from configured key rights, the bucket
policy, ACLs, ownership controls and the public-access block.

``Access.decide`` is what ``S3App.authorise`` calls for every request (and what any other entry point,
such as a browser POST upload, calls with the operation it performs). Order, as AWS evaluates a request
within one account:

1. A key pair's configured bucket rights cap it: a right the configuration withholds is AccessDenied,
   whatever an ACL or policy says.
2. An explicit Deny of the bucket policy that applies is AccessDenied (the bucket owner may still read,
   replace and delete the policy, as an AWS account's root user can).
3. An Allow of the bucket policy allows (public statements only for the owner under
   RestrictPublicBuckets).
4. Configured rights allow by themselves, unless the key pair is ``isolated`` (an account of its own).
5. The bucket owner may do anything to the bucket, and to the objects it owns.
6. ACL grants allow, unless the bucket's ownership is BucketOwnerEnforced (ACLs disabled, as S3); the
   public grants are left out under IgnorePublicAcls. Writes into a bucket read its ACL, reads of an
   object and its ACL read the object's.
7. An anonymous read of a bucket configured public-read (``public_buckets``) is allowed, as before.

Anything else is AccessDenied, the same answer whether the bucket exists or not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backends import errors as be
from backends.base import Backend
from gateway import acl as acls
from gateway import objectacl
from gateway.accesssettings import AccessSettings
from gateway.bucketpolicy import BucketPolicy, resource_arn
from gateway.errors import S3Error
from gateway.iamactions import BUCKET_ACL_WRITES, Action, action_of
from gateway.identity import Identities, Identity
from gateway.policy import Policy

#: What the bucket owner may always do, whatever the policy denies (no lock-out).
OWNER_IMMUNE = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


@dataclass(frozen=True)
class Facts:
    """What a request tells about itself, for policy conditions."""

    source_ip: str | None = None
    secure: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    auth_method: str = "anonymous"
    now: dt.datetime | None = None


def condition_context(caller: Identity | None, facts: Facts) -> dict[str, Sequence[str]]:
    """The request's values of the condition keys ``gateway.bucketpolicy`` knows."""
    now = facts.now or dt.datetime.now(dt.timezone.utc)
    found: dict[str, Sequence[str]] = {
        "aws:securetransport": ["true" if facts.secure else "false"],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "aws:principaltype": ["Anonymous" if caller is None else "User"],
    }
    if facts.source_ip:
        found["aws:sourceip"] = [facts.source_ip]
    if caller is not None:
        found["aws:username"] = [caller.display_name]
        found["aws:userid"] = [caller.canonical_id]
    if facts.auth_method != "anonymous":
        found["s3:authtype"] = ["REST-QUERY-STRING" if "presigned" in facts.auth_method else "REST-HEADER"]
        found["s3:signatureversion"] = [
            "AWS4-HMAC-SHA256" if facts.auth_method.startswith("sigv4") else "AWS"
        ]
    for name, key in (("referer", "aws:referer"), ("user-agent", "aws:useragent")):
        if name in facts.headers:
            found[key] = [facts.headers[name]]
    for header in (
        "x-amz-acl",
        "x-amz-content-sha256",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        "x-amz-storage-class",
    ):
        if header in facts.headers:
            found["s3:" + header] = [facts.headers[header]]
    for param in ("prefix", "delimiter", "max-keys"):
        if param in facts.query:
            found["s3:" + param] = [facts.query[param]]
    return found


def _configured_right(action: Action | None) -> str:
    """The configuration's right an operation needs when the caller does not say (see gateway.policy)."""
    if action is None or action.on == "service":
        return "none"
    if action.permission == "WRITE":
        return "write"
    if action.on == "object" and action.permission == "READ":
        return "read"
    return "list" if action.name.startswith(("s3:Get", "s3:List")) else "admin"


class Access:
    def __init__(self, rights: Policy, identities: Identities, settings: AccessSettings, backend: Backend):
        self.rights = rights
        self.identities = identities
        self.settings = settings
        self.backend = backend

    async def decide(
        self,
        access_key: str | None,
        operation: str,
        bucket: str | None,
        key: str | None,
        facts: Facts,
        *,
        right: str | None = None,
        public_read: bool = False,
    ) -> None:
        """Return when the caller may perform ``operation``; raise AccessDenied otherwise."""
        if bucket is not None and bucket in self.rights.reserved:
            raise S3Error("AccessDenied")  # the gateway's own settings bucket: nobody reads or writes it
        caller = self.identities.by_key(access_key)
        action = action_of(operation, dict(facts.query))
        right = right or _configured_right(action)
        if bucket is None:
            self.rights.authorize(access_key, bucket, right)
            return
        configured = caller is not None and self.rights.allows(access_key, bucket, right)
        if caller is not None and not configured:
            raise S3Error("AccessDenied")
        try:
            allowed = await self._allowed(
                caller, action, operation, bucket, key, facts, configured, public_read
            )
        except be.NoSuchBucket:
            allowed = configured  # the handler answers NoSuchBucket to whom may learn it
        if not allowed:
            raise S3Error("AccessDenied")

    async def _allowed(
        self,
        caller: Identity | None,
        action: Action | None,
        operation: str,
        bucket: str,
        key: str | None,
        facts: Facts,
        configured: bool,
        public_read: bool,
    ) -> bool:
        public_config = caller is None and public_read and self.rights.is_public(bucket)
        if action is None:  # an operation the table does not know: configured rights as before
            return configured or public_config
        if action.name == "s3:CreateBucket":  # a name, not a bucket yet: whose it is, the handler answers
            return configured
        if operation == "DeleteObjects":  # no bucket-level permission: each key is decided on its own
            return configured or caller is not None or public_config
        policy = await self.settings.policy(bucket)
        if policy is not None:
            verdict = await self._policy(policy, caller, action, bucket, key, facts)
            if verdict is not None:
                return verdict
        if (configured and caller is not None and not caller.isolated) or public_config:
            return True
        owner = await self.settings.owner(bucket)
        caller_id = caller.canonical_id if caller is not None else None
        is_owner = caller_id == owner.canonical_id
        if action.permission is None:
            return is_owner
        enforced = await self.settings.ownership(bucket) == "BucketOwnerEnforced"
        ignore_public = (await self.settings.public_access_block(bucket)).IgnorePublicAcls
        if action.on == "bucket" or operation in BUCKET_ACL_WRITES or key is None:
            if is_owner or enforced:
                return is_owner
            acl = await self.settings.bucket_acl(bucket, owner)
            return acls.allows(acl.without_public() if ignore_public else acl, caller_id, action.permission)
        if enforced:
            return is_owner
        try:
            info = await self.backend.head_object(bucket, key)
        except be.NoSuchKey:
            return is_owner  # the owner learns it is missing; others are denied, as S3 without ListBucket
        acl = objectacl.read(info.meta) or acls.private(owner.canonical_id)
        if caller_id is not None and caller_id == acl.owner:
            return True
        return acls.allows(acl.without_public() if ignore_public else acl, caller_id, action.permission)

    async def _policy(
        self,
        policy: BucketPolicy,
        caller: Identity | None,
        action: Action,
        bucket: str,
        key: str | None,
        facts: Facts,
    ) -> bool | None:
        """False on an explicit Deny, True on an Allow, None when the policy says nothing."""
        owner: Identity | None = None
        public = True
        if policy.is_public() and (await self.settings.public_access_block(bucket)).RestrictPublicBuckets:
            owner = await self.settings.owner(bucket)
            public = caller is not None and caller.canonical_id == owner.canonical_id
        resource = resource_arn(bucket, key if action.on == "object" else None)
        effect = policy.evaluate(
            caller, action.name, resource, condition_context(caller, facts), public=public
        )
        if effect == "Deny":
            if action.name in OWNER_IMMUNE and caller is not None:
                owner = owner or await self.settings.owner(bucket)
                if caller.canonical_id == owner.canonical_id:
                    return None
            return False
        return True if effect == "Allow" else None
