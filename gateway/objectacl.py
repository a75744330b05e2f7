"""An object's ACL, kept in its own metadata under a hidden name (pure code; the why is in gateway.acl).

The record rides in ``ObjectMeta.user`` under ``HIDDEN``, so every backend stores it with the object in
the same write, and copies, multipart completions and deletes carry or drop it with the bytes. Clients
never see it (gateway.headers leaves it out of GET/HEAD answers) and never set it (gateway.headers
refuses ``x-amz-meta-s3bridge-acl``): a client-written record would be an ACL nobody authorised.
"""

from __future__ import annotations

from backends.base import ObjectMeta
from gateway.acl import Acl
from gateway.headers import HIDDEN_META_PREFIX as HIDDEN_PREFIX

HIDDEN = HIDDEN_PREFIX + "acl"


def read(meta: ObjectMeta) -> Acl | None:
    """The stored ACL, None for an object written without one (private to the bucket owner)."""
    raw = meta.user.get(HIDDEN)
    if raw is None:
        return None
    try:
        return Acl.from_json(raw)
    except (ValueError, KeyError, TypeError):
        return None  # a damaged record grants nothing: the object is the bucket owner's alone


def attach(meta: ObjectMeta, acl: Acl | None) -> ObjectMeta:
    """``meta`` carrying ``acl`` (None: no record)."""
    meta.user.pop(HIDDEN, None)
    if acl is not None:
        meta.user[HIDDEN] = acl.to_json().decode()
    return meta
