"""Where a request points: bucket and key from the Host header and the raw path (pure code).

Path-style (``/bucket/key``) always works; virtual-hosted style (``bucket.<domain>``) for the configured
domains. The key is the raw path after the bucket, percent-decoded once as UTF-8: S3 does not normalise
paths, so ``a//b``, ``./x`` and a trailing ``/`` are part of the key.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

from gateway.errors import S3Error

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Target:
    bucket: str | None
    key: str | None
    #: True when the bucket came from the Host header.
    virtual_host: bool = False


def query_params(query_string: str) -> dict[str, str]:
    """``dict(parse_qsl(query_string, keep_blank_values=True))``, the last of a repeated name winning:
    a fresh copy (the caller's to keep) of the parse remembered per query string (a presigned URL comes
    with the same query again and again)."""
    return dict(_parsed_query(query_string))


@functools.lru_cache(maxsize=512)
def _parsed_query(query_string: str) -> dict[str, str]:
    """``query_params`` uncached, in a third of ``parse_qsl``'s time: only a piece holding ``+`` or
    ``%`` pays for the replacing and decoding. Never handed out: callers get copies."""
    params: dict[str, str] = {}
    for piece in query_string.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "+" in piece:
            name, value = name.replace("+", " "), value.replace("+", " ")
        if "%" in piece:
            name, value = unquote(name), unquote(value)
        params[name] = value
    return params


def split_host(host: str) -> str:
    """The host without its port (IPv6 literals keep their brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def bucket_from_host(host: str, domains: list[str]) -> str | None:
    """``photos`` for ``photos.s3.example.com`` when ``s3.example.com`` is a configured domain."""
    name = split_host(host)
    for domain in domains:
        domain = domain.lower().lstrip(".")
        if name.endswith("." + domain):
            return name[: -len(domain) - 1]
    return None


def resolve(raw_path: str, host: str, domains: list[str], path_prefix: str = "") -> Target:
    """Bucket and key for a request; ``path_prefix`` is what a proxy put in front of S3 paths."""
    path = raw_path or "/"
    if path_prefix:
        if path == path_prefix or path.startswith(path_prefix + "/"):
            path = path[len(path_prefix) :] or "/"
        else:
            raise S3Error("NoSuchBucket", "The request path is outside the configured path prefix.")
    if not path.startswith("/"):
        path = "/" + path
    vbucket = bucket_from_host(host, domains) if domains else None
    if vbucket is not None:
        key = decode(path[1:])
        return Target(vbucket, key or None, True)
    rest = path[1:]
    if not rest:
        return Target(None, None)
    bucket_raw, sep, key_raw = rest.partition("/")
    bucket = decode(bucket_raw)
    if not bucket:
        # ``//key``: a path-style request whose bucket segment is empty names no bucket at all.
        raise S3Error("InvalidBucketName", "The request path has an empty bucket name.", BucketName="")
    key = decode(key_raw) if sep else ""
    return Target(bucket or None, key or None)


def decode(raw: str) -> str:
    """Percent-decode a path piece as UTF-8; invalid UTF-8 is refused rather than guessed."""
    try:
        return unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise S3Error("InvalidArgument", "The path is not valid UTF-8 after decoding.") from exc


def valid_bucket_name(name: str) -> bool:
    """S3's naming rules for new buckets (general purpose buckets)."""
    if not _BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(
        ("-s3alias", "--ol-s3", "--x-s3")
    ):
        return False
    try:
        ipaddress.IPv4Address(name)
        return False
    except ValueError:
        return True
