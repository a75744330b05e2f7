"""A bucket's access-control settings as the gateway stores them: owner, ACL, policy, ownership controls
and public-access block (documents in the bucket-settings store, see gateway.bucketsettings).

Stored forms: ``owner`` the owner's canonical id; ``acl`` ``Acl.to_json``; ``policy`` the policy JSON as
the client sent it (GetBucketPolicy answers it back); ``ownership`` the ObjectOwnership value;
``public-access-block`` JSON of the four flags. Defaults when a record is missing: the first configured
key pair owns the bucket, the ACL is the owner's FULL_CONTROL, no policy, BucketOwnerEnforced, and no
public-access block (a bucket created through the gateway gets all four flags, as AWS since 2023).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Literal

from gateway import acl as acls
from gateway import bucketpolicy
from gateway.bucketsettings import BucketSettings
from gateway.identity import Identities, Identity

Ownership = Literal["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"]
OWNERSHIPS: tuple[Ownership, ...] = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


@dataclass(frozen=True)
class PublicAccessBlock:
    BlockPublicAcls: bool = False
    IgnorePublicAcls: bool = False
    BlockPublicPolicy: bool = False
    RestrictPublicBuckets: bool = False

    def to_json(self) -> bytes:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}).encode()

    @classmethod
    def from_json(cls, data: bytes | None) -> PublicAccessBlock:
        if data is None:
            return cls()
        raw = json.loads(data)
        return cls(**{f.name: bool(raw.get(f.name, False)) for f in fields(cls)})


ALL_BLOCKED = PublicAccessBlock(True, True, True, True)


class AccessSettings:
    """Reads (through the settings cache) and writes of one gateway's access-control documents."""

    def __init__(self, settings: BucketSettings, identities: Identities):
        self.settings = settings
        self.identities = identities
        self._policies: dict[tuple[str, bytes], bucketpolicy.BucketPolicy] = {}

    async def owner(self, bucket: str) -> Identity:
        raw = await self.settings.get_if_supported(bucket, "owner")
        if not raw:
            return self.identities.default_owner
        return self.identities.named(raw.decode().strip())

    async def bucket_acl(self, bucket: str, owner: Identity | None = None) -> acls.Acl:
        raw = await self.settings.get_if_supported(bucket, "acl")
        if raw:
            try:
                return acls.Acl.from_json(raw)
            except (ValueError, KeyError, TypeError):
                pass  # a damaged record grants nothing beyond the owner's
        owner = owner or await self.owner(bucket)
        return acls.private(owner.canonical_id)

    async def ownership(self, bucket: str) -> Ownership:
        raw = await self.settings.get_if_supported(bucket, "ownership")
        value = raw.decode().strip() if raw else ""
        return value if value in OWNERSHIPS else "BucketOwnerEnforced"  # type: ignore[return-value]

    async def public_access_block(self, bucket: str) -> PublicAccessBlock:
        try:
            return PublicAccessBlock.from_json(
                await self.settings.get_if_supported(bucket, "public-access-block")
            )
        except (ValueError, TypeError):
            return ALL_BLOCKED  # fail closed on a damaged record

    async def policy(self, bucket: str) -> bucketpolicy.BucketPolicy | None:
        raw = await self.settings.get_if_supported(bucket, "policy")
        if not raw:
            return None
        parsed = self._policies.get((bucket, raw))
        if parsed is None:
            # Checked at PutBucketPolicy; a record that no longer parses (an identity it named was removed
            # from the configuration) still denies what it denies: see ``_lenient``.
            parsed = _lenient(raw, bucket, self.identities)
            if len(self._policies) > 1000:
                self._policies.clear()
            self._policies[(bucket, raw)] = parsed
        return parsed


def _lenient(raw: bytes, bucket: str, identities: Identities) -> bucketpolicy.BucketPolicy:
    try:
        return bucketpolicy.parse(raw, bucket, identities)
    except Exception:
        # Fail closed: a stored policy that cannot be read any more denies everyone but the owner.
        deny_all = bucketpolicy.Statement("Deny", None, ("*",), False, ("*",), False)
        return bucketpolicy.BucketPolicy((deny_all,))
