"""Who a key pair is: the identities of the configuration, with S3 canonical ids (pure code).

Each key pair of ``credentials`` is an identity, as an AWS account is: a canonical user id (64 hex
digits, what ACL grants and ``Owner`` elements name) and a display name. Both are configurable; an unset
canonical id is derived from the access key with SHA-256, so it is stable across restarts and replicas
without being stored anywhere. Key pairs that name the same ``canonical_id`` are one identity with
several keys (key rotation), as an account has several access keys.

A bucket with no owner record (created before owners were recorded, or directly on the store) belongs to
the first configured key pair: ``Identities.default_owner``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.config import Config, KeyPair


@dataclass(frozen=True)
class Identity:
    canonical_id: str
    display_name: str
    #: The access key the request was signed with (the first key of the identity for an owner record).
    access_key: str
    #: Configured rights only cap this identity (see ``KeyPair.isolated``).
    isolated: bool = False


def derived_canonical_id(access_key: str) -> str:
    """The canonical id of a key pair that does not configure one: stable, and reveals nothing of the key
    beyond what a hash does."""
    return hashlib.sha256(b"s3bridge-identity\0" + access_key.encode()).hexdigest()


def _identity(pair: KeyPair) -> Identity:
    return Identity(
        canonical_id=pair.canonical_id or derived_canonical_id(pair.access_key),
        display_name=pair.display_name or pair.access_key,
        access_key=pair.access_key,
        isolated=pair.isolated,
    )


#: The owner shown when the configuration has no key pair at all (an anonymous-only gateway).
NOBODY = Identity(hashlib.sha256(b"s3bridge-owner").hexdigest(), "s3bridge", "")


class Identities:
    """The configured identities, looked up by access key or canonical id."""

    def __init__(self, config: Config):
        self._by_key: dict[str, Identity] = {}
        self._by_id: dict[str, Identity] = {}
        for pair in config.credentials:
            identity = _identity(pair)
            self._by_key[pair.access_key] = identity
            self._by_id.setdefault(identity.canonical_id, identity)
        first = config.credentials[0] if config.credentials else None
        self.default_owner = self._by_key[first.access_key] if first is not None else NOBODY

    def known_ids(self) -> list[str]:
        """The canonical ids an ACL grant may name."""
        return list(self._by_id)

    def display_names(self) -> dict[str, str]:
        return {cid: identity.display_name for cid, identity in self._by_id.items()}

    def by_key(self, access_key: str | None) -> Identity | None:
        return None if access_key is None else self._by_key.get(access_key)

    def by_id(self, canonical_id: str) -> Identity | None:
        return self._by_id.get(canonical_id)

    def named(self, canonical_id: str) -> Identity:
        """The identity of an owner record; one no longer configured keeps its id, and shows it as its
        name, so an ACL still answers whom it names."""
        return self._by_id.get(canonical_id) or Identity(canonical_id, canonical_id, "")

    def by_principal(self, name: str) -> Identity | None:
        """A policy principal: an access key, a canonical id, or ``arn:aws:iam::<id>:user/<name>`` /
        ``arn:aws:iam::<id>:root`` where ``<id>`` is a canonical id or access key and ``<name>`` a display
        name or access key."""
        found = self._by_key.get(name) or self._by_id.get(name)
        if found is not None or not name.startswith("arn:aws:iam::"):
            return found
        account, _, resource = name[len("arn:aws:iam::") :].partition(":")
        if resource.startswith("user/"):
            user = resource[len("user/") :]
            for identity in self._by_key.values():
                if user in (identity.access_key, identity.display_name):
                    return identity
            return None
        if resource == "root":
            return self._by_key.get(account) or self._by_id.get(account)
        return None
