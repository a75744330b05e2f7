"""S3 access control lists: grants, canned ACLs, grant headers, the AccessControlPolicy document, and
what a grant allows (pure code).

An ACL is an owner and a list of grants (grantee, permission). It comes from one of three request forms,
exactly one per request: a canned ACL (``x-amz-acl``), ``x-amz-grant-*`` headers, or an
AccessControlPolicy body (PutBucketAcl / PutObjectAcl only). Grantees are the gateway's identities by
canonical id, or the AllUsers / AuthenticatedUsers / LogDelivery groups; an e-mail grantee cannot be
resolved (the gateway's identities have no e-mail address): UnresolvableGrantByEmailAddress, as S3.

Where ACLs live. A bucket's ACL is the bucket setting ``acl``. An object's ACL is stored with the object,
in its user metadata under the hidden name ``HIDDEN_META`` (see gateway.objectacl): it is written in the
same PUT / copy / CompleteMultipartUpload as the bytes, so an object never exists without its ACL, is
deleted with it and needs no second store on any backend; a per-object record in the settings store
could outlive its object or miss a new one between two writes. Objects without the record are private
to the bucket owner (the only possible state under BucketOwnerEnforced, the default).

``aws-exec-read`` grants EC2 a read no gateway caller can make, so it is the owner's FULL_CONTROL only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from gateway.errors import S3Error
from gateway.xmlio import Doc, add

Permission = Literal["FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP"]
PERMISSIONS: tuple[Permission, ...] = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
GranteeKind = Literal["CanonicalUser", "Group", "AmazonCustomerByEmail"]

GROUPS = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUPS + "global/AllUsers"
AUTHENTICATED_USERS = GROUPS + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUPS + "s3/LogDelivery"
KNOWN_GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
#: The groups that make a grant public (what BlockPublicAcls / IgnorePublicAcls look at).
PUBLIC_GROUPS = (ALL_USERS, AUTHENTICATED_USERS)

CANNED = (
    "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
    "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
)  # fmt: skip
#: ``x-amz-grant-<name>`` → permission.
GRANT_HEADERS: dict[str, Permission] = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}
MAX_GRANTS = 100
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class Grantee:
    kind: GranteeKind
    #: Canonical id, group URI or e-mail address, by kind.
    value: str


@dataclass(frozen=True)
class Grant:
    grantee: Grantee
    permission: Permission


@dataclass(frozen=True)
class Acl:
    owner: str
    grants: tuple[Grant, ...]

    def to_json(self) -> bytes:
        """The stored form: compact, since an object's ACL rides in its metadata (2 KB on S3)."""
        data = {
            "o": self.owner,
            "g": [[g.grantee.kind[0], g.grantee.value, g.permission] for g in self.grants],
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Acl:
        raw = json.loads(data)
        kinds: dict[str, GranteeKind] = {"C": "CanonicalUser", "G": "Group", "A": "AmazonCustomerByEmail"}
        return cls(raw["o"], tuple(Grant(Grantee(kinds[k], v), p) for k, v, p in raw["g"]))

    def is_public(self) -> bool:
        return any(g.grantee.kind == "Group" and g.grantee.value in PUBLIC_GROUPS for g in self.grants)

    def without_public(self) -> Acl:
        return Acl(self.owner, tuple(g for g in self.grants if not _public(g)))


def _public(grant: Grant) -> bool:
    return grant.grantee.kind == "Group" and grant.grantee.value in PUBLIC_GROUPS


def _user(canonical_id: str, permission: Permission) -> Grant:
    return Grant(Grantee("CanonicalUser", canonical_id), permission)


def _group(uri: str, permission: Permission) -> Grant:
    return Grant(Grantee("Group", uri), permission)


def private(owner: str) -> Acl:
    return Acl(owner, (_user(owner, "FULL_CONTROL"),))


def canned(name: str, owner: str, bucket_owner: str | None = None) -> Acl:
    """The ACL a canned name stands for; ``bucket_owner`` is set for objects (the bucket-owner-* ACLs
    name it; on a bucket they are the owner's FULL_CONTROL alone, as S3)."""
    extra: tuple[Grant, ...]
    if name in ("private", "aws-exec-read"):
        extra = ()
    elif name == "public-read":
        extra = (_group(ALL_USERS, "READ"),)
    elif name == "public-read-write":
        extra = (_group(ALL_USERS, "READ"), _group(ALL_USERS, "WRITE"))
    elif name == "authenticated-read":
        extra = (_group(AUTHENTICATED_USERS, "READ"),)
    elif name == "log-delivery-write":
        extra = (_group(LOG_DELIVERY, "WRITE"), _group(LOG_DELIVERY, "READ_ACP"))
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        perm: Permission = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        extra = (_user(bucket_owner, perm),) if bucket_owner and bucket_owner != owner else ()
    else:
        raise S3Error("InvalidArgument", "Invalid canned ACL", ArgumentName="x-amz-acl", ArgumentValue=name)
    return Acl(owner, (_user(owner, "FULL_CONTROL"), *extra))


# -- grant headers ---------------------------------------------------------------------------------
def _grantees(header: str, value: str, known_ids: Iterable[str]) -> list[Grantee]:
    """``id="...", uri="...", emailAddress="..."`` → grantees."""
    known = set(known_ids)
    found: list[Grantee] = []
    for item in value.split(","):
        kind, eq, raw = item.strip().partition("=")
        target = raw.strip().strip('"')
        kind = kind.strip().lower()
        if not eq or not target:
            raise S3Error("InvalidArgument", "Invalid grant header", ArgumentName=header, ArgumentValue=value)
        if kind == "id":
            if target not in known:
                raise S3Error(
                    "InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=target
                )
            found.append(Grantee("CanonicalUser", target))
        elif kind == "uri":
            if target not in KNOWN_GROUPS:
                raise S3Error(
                    "InvalidArgument", "Invalid group uri", ArgumentName="Group/URI", ArgumentValue=target
                )
            found.append(Grantee("Group", target))
        elif kind == "emailaddress":
            raise S3Error(
                "UnresolvableGrantByEmailAddress",
                "The e-mail address you provided does not match any account on record.",
            )
        else:
            raise S3Error("InvalidArgument", "Invalid grant header", ArgumentName=header, ArgumentValue=value)
    return found


def from_grant_headers(headers: Mapping[str, str], owner: str, known_ids: Iterable[str]) -> Acl | None:
    """The ACL of the request's ``x-amz-grant-*`` headers, None when it has none. As S3, the grants are the
    whole ACL: the owner keeps FULL_CONTROL only when a header grants it (the owner's implicit rights to
    the ACL itself stay, see ``allows``)."""
    ids = list(known_ids)
    grants: list[Grant] = []
    for header, permission in GRANT_HEADERS.items():
        value = headers.get(header)
        if value is not None:
            grants += [Grant(g, permission) for g in _grantees(header, value, ids)]
    if not any(h in headers for h in GRANT_HEADERS):
        return None
    return Acl(owner, tuple(grants))


def requested(
    headers: Mapping[str, str], owner: str, known_ids: Iterable[str], bucket_owner: str | None = None
) -> Acl | None:
    """The ACL a write request asks for (canned or grant headers; both → InvalidRequest), None if none."""
    name = headers.get("x-amz-acl")
    if name is not None and any(h in headers for h in GRANT_HEADERS):
        raise S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    if name is not None:
        return canned(name.strip(), owner, bucket_owner)
    return from_grant_headers(headers, owner, known_ids)


# -- the AccessControlPolicy document ----------------------------------------------------------------
def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for sub in el:
        if _local(sub) == name:
            return sub
    return None


def _text(el: etree._Element | None) -> str | None:
    return None if el is None or el.text is None else el.text.strip()


def _malformed() -> S3Error:
    return S3Error("MalformedACLError")


def parse_policy(root: etree._Element, known_ids: Iterable[str]) -> tuple[str | None, Acl]:
    """(the Owner/ID the document names, its ACL); anything off the schema is MalformedACLError."""
    if _local(root) != "AccessControlPolicy":
        raise _malformed()
    owner_el = _child(root, "Owner")
    owner_id = _text(_child(owner_el, "ID")) if owner_el is not None else None
    if not owner_id:
        raise _malformed()
    acl_el = _child(root, "AccessControlList")
    if acl_el is None:
        raise _malformed()
    known = set(known_ids)
    grants: list[Grant] = []
    for grant_el in acl_el:
        if _local(grant_el) != "Grant":
            raise _malformed()
        grantee_el, permission = _child(grant_el, "Grantee"), _text(_child(grant_el, "Permission"))
        if grantee_el is None or permission not in PERMISSIONS:
            raise _malformed()
        grants.append(Grant(_grantee(grantee_el, known), permission))  # type: ignore[arg-type]
    if len(grants) > MAX_GRANTS:
        raise _malformed()
    return owner_id, Acl(owner_id, tuple(grants))


def _grantee(el: etree._Element, known: set[str]) -> Grantee:
    kind = el.get(f"{{{XSI}}}type")
    if kind == "CanonicalUser":
        value = _text(_child(el, "ID"))
        if not value:
            raise _malformed()
        if value not in known:
            raise S3Error(
                "InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=value
            )
        return Grantee("CanonicalUser", value)
    if kind == "Group":
        value = _text(_child(el, "URI"))
        if value not in KNOWN_GROUPS:
            raise S3Error(
                "InvalidArgument", "Invalid group uri", ArgumentName="Group/URI", ArgumentValue=str(value)
            )
        return Grantee("Group", value)
    if kind == "AmazonCustomerByEmail":
        raise S3Error(
            "UnresolvableGrantByEmailAddress",
            "The e-mail address you provided does not match any account on record.",
        )
    raise _malformed()


def to_document(acl: Acl, name_of: Mapping[str, str]) -> Doc:
    """The AccessControlPolicy answer; ``name_of`` maps canonical ids to display names."""
    doc = Doc("AccessControlPolicy")
    owner = add(doc.root, "Owner")
    add(owner, "ID", acl.owner)
    add(owner, "DisplayName", name_of.get(acl.owner, acl.owner))
    grants = add(doc.root, "AccessControlList")
    for grant in acl.grants:
        grant_el = add(grants, "Grant")
        grantee = etree.SubElement(grant_el, "Grantee", nsmap={"xsi": XSI})  # type: ignore[dict-item]
        grantee.set(f"{{{XSI}}}type", grant.grantee.kind)
        if grant.grantee.kind == "CanonicalUser":
            add(grantee, "ID", grant.grantee.value)
            add(grantee, "DisplayName", name_of.get(grant.grantee.value, grant.grantee.value))
        elif grant.grantee.kind == "Group":
            add(grantee, "URI", grant.grantee.value)
        else:
            add(grantee, "EmailAddress", grant.grantee.value)
        add(grant_el, "Permission", grant.permission)
    return doc


# -- evaluation --------------------------------------------------------------------------------------
def allows(acl: Acl, caller: str | None, permission: Permission) -> bool:
    """Does a grant give ``permission`` to the caller (a canonical id, None when anonymous)? The owner
    always may read and write the ACL itself, as S3."""
    if caller is not None and caller == acl.owner and permission in ("READ_ACP", "WRITE_ACP"):
        return True
    for grant in acl.grants:
        if grant.permission not in (permission, "FULL_CONTROL"):
            continue
        grantee = grant.grantee
        if grantee.kind == "Group" and (
            grantee.value == ALL_USERS or (grantee.value == AUTHENTICATED_USERS and caller is not None)
        ):
            return True
        if grantee.kind == "CanonicalUser" and caller is not None and grantee.value == caller:
            return True
    return False
