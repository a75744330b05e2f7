"""The backend contract: every operation the S3 front end needs, and the data types it passes.

One async interface for all providers. The front end speaks only this; a provider module (fs, s3, oss,
obs) or a composite (router, retry, fallback, mirror) implements it. ``Backend`` answers
NotImplementedByBackend for everything, so a backend overrides only what it supports, and the front end
turns that into S3's NotImplemented.

Bodies flow as async iterators of bytes in both directions. An upload body (``PutBody``) verifies itself
while it flows: it raises instead of ending when the bytes do not match what the client declared, so a
backend that commits only after the iterator ended normally can never store a corrupt object.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import NamedTuple, Protocol, runtime_checkable

from backends.errors import InvalidArgument, NoSuchKey, NotImplementedByBackend, PreconditionFailed
from backends.sse import Encryption

#: Chunks of an object body, in order.
ByteStream = AsyncIterator[bytes]

#: Checksum algorithms S3 knows, as they appear in ``x-amz-checksum-<alg>`` (lowercase).
CHECKSUM_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


class PutBody(Protocol):
    """An upload body: the bytes, their declared length, and the checksums computed as they flowed.

    ``size`` is the decoded length the client declared (None when unknown). ``checksums`` maps the
    algorithm names of CHECKSUM_ALGORITHMS to base64 values; it is complete only once iteration ended
    normally, so a backend reads it at commit time, not before.
    """

    size: int | None

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    @property
    def checksums(self) -> dict[str, str]: ...


@runtime_checkable
class DeclaredIntegrity(Protocol):
    """A PutBody whose bytes are exactly the client's, knowing the integrity values the client declared
    before sending them: ``md5`` (Content-MD5) and algorithms of CHECKSUM_ALGORITHMS, base64. A backend
    that streams to a store forwards them where the store wants a check it cannot compute up front (S3's
    locked PutObject). A body that changes the bytes (encryption) must not offer this."""

    @property
    def declared(self) -> dict[str, str]: ...


def declared_integrity(body: PutBody) -> dict[str, str]:
    """The client's up-front integrity values of ``body`` ({} when it declares none or cannot)."""
    return dict(body.declared) if isinstance(body, DeclaredIntegrity) else {}


@runtime_checkable
class FileSpan(Protocol):
    """A GET body that is bytes of a file the backend opened (the fs backend's): a server that can send
    a file by itself (``sendfile``) takes ``file_span()`` (descriptor, offset, count) instead of
    iterating, then ``aclose()``s the body; the descriptor stays open until then."""

    def file_span(self) -> tuple[int, int, int]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ComputesMd5(PutBody, Protocol):
    """A PutBody that can compute the MD5 of its bytes as it verifies them (the gateway's request body:
    off the event loop, once for both Content-MD5 and the ETag), so a store whose ETag is that MD5 does
    not hash every byte again. ``compute_md5`` is asked before iterating (False: it will not);
    ``md5_hex`` is read once iteration ended. A body that changes the bytes must not offer this."""

    def compute_md5(self) -> bool: ...

    @property
    def md5_hex(self) -> str | None: ...


def body_md5(body: PutBody) -> Callable[[], str | None] | None:
    """Ask ``body`` for its MD5 (call before iterating): the getter to call once iteration ended, or
    None when the body will not compute it and the backend hashes itself."""
    # ``ComputesMd5``'s one method, looked up directly: an isinstance check against a runtime-checkable
    # Protocol walks the protocol's members on every call (6 % of a small PUT's event-loop time).
    compute = getattr(body, "compute_md5", None)
    if compute is None or not compute():
        return None
    return lambda: body.md5_hex  # type: ignore[attr-defined]


@runtime_checkable
class AnyUniqueEtag(PutBody, Protocol):
    """A PutBody whose writer uses the store's ETag of this write only as its identity (a cache key, an
    If-Match token, a check that later reads met the same version), never as a digest of the bytes: the
    encrypt layer's sealed bodies, whose clients see the plaintext's MD5 from the sealed trailers. A store
    that hashes the bytes itself for its ETag (fs) may then skip that pass over every byte and give the
    object any ETag unique to this write, shaped as an MD5's hex so every consumer still parses it; a
    store whose service computes its ETags ignores it. ``any_unique_etag`` is asked before iterating.
    A body that passes on the client's bytes and ETag as they are (a retry's tracked body) may forward
    it; one whose store ETag a caller compares across writes (a mirror's tee) must not offer it."""

    @property
    def any_unique_etag(self) -> bool: ...


def any_unique_etag(body: PutBody) -> bool:
    """May the store give ``body``'s object any ETag unique to this write (``AnyUniqueEtag``)?"""
    return isinstance(body, AnyUniqueEtag) and body.any_unique_etag


def unique_etag() -> str:
    """An ETag unique to one write: 16 random bytes as 32 hex digits, shaped as an MD5's hex."""
    return os.urandom(16).hex()


@dataclass
class ObjectMeta:
    """What a client sets on an object and gets back: content headers and user metadata.

    ``user`` keys are lowercase and carry no ``x-amz-meta-`` prefix. ``checksums`` holds the object's
    stored checksums (algorithm → base64), ``checksum_type`` COMPOSITE or FULL_OBJECT for multipart.
    """

    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    storage_class: str | None = None
    #: The object's tags (key → value). A write sets them with the object, in the same step; a read fills
    #: them where the store returns them with the object (fs), else it reports only ``tag_count``.
    tags: dict[str, str] = field(default_factory=dict)
    #: How many tags the object carries, when a read learned the count but not the tags (s3, oss).
    tag_count: int | None = None
    #: Object Lock retention of this version: mode (one of LOCK_MODES) and the ISO 8601 UTC date it
    #: lasts until, both or neither; ``legal_hold`` True while a legal hold is on. Only a backend whose
    #: ``enable_object_lock`` succeeded for the bucket is given these (and must enforce them).
    lock_mode: str | None = None
    lock_retain_until: str | None = None
    legal_hold: bool | None = None
    #: Set on what a backend returns for an object it encrypted (the ``encrypt`` composite); None: stored
    #: as the provider stores it. Ignored on the way in: requests travel in ``backends.sse.requested``.
    encryption: Encryption | None = None

    def copy(self, **changes: object) -> ObjectMeta:
        fresh: dict[str, object] = {
            "user": dict(self.user),
            "checksums": dict(self.checksums),
            "tags": dict(self.tags),
            **changes,
        }
        return replace(self, **fresh)  # type: ignore[arg-type]

    @property
    def tagging_count(self) -> int:
        """The number of tags a GET or HEAD reports (``x-amz-tagging-count``)."""
        return self.tag_count if self.tag_count is not None else len(self.tags)


#: ObjectMeta's standard content fields → the HTTP header that carries each, for every provider and
#: for the front end (both directions).
CONTENT_HEADERS: dict[str, str] = {
    "content_type": "Content-Type",
    "content_encoding": "Content-Encoding",
    "content_disposition": "Content-Disposition",
    "content_language": "Content-Language",
    "cache_control": "Cache-Control",
    "expires": "Expires",
}


@dataclass
class ObjectInfo:
    """An object as listed or fetched. ``etag`` has no quotes; multipart ETags end in ``-N``."""

    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    meta: ObjectMeta = field(default_factory=ObjectMeta)
    #: The version this is, as the store names it (``"null"`` for the null version); None where the
    #: backend keeps no versions.
    version_id: str | None = None
    #: A delete marker (then ``size`` is 0 and ``etag`` empty): only in version listings.
    delete_marker: bool = False


@dataclass
class BucketInfo:
    name: str
    created: dt.datetime


@dataclass
class ListPage:
    """One page of a listing, in UTF-8 binary key order.

    ``next_marker`` is the last key or common prefix in this page when ``is_truncated``: passing it back
    as ``start_after`` continues the listing, skipping every key rolled up into that common prefix.
    """

    objects: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None = None


class Listed(NamedTuple):
    """An object as a listing shows it, and no more (S3 lists no content headers, user metadata nor
    tags): the light form of a listing page (``Backend.list_objects_listed``). A thousand-key page is a
    thousand tuples, where ObjectInfo and its ObjectMeta cost more CPU than the rest of the page."""

    key: str
    size: int
    etag: str
    #: Last-Modified in nanoseconds since the epoch (UTC).
    mtime_ns: int
    #: The algorithms of the object's stored checksums (lowercase, as ``ObjectMeta.checksums`` keys).
    checksum_algorithms: tuple[str, ...]
    storage_class: str | None

    @classmethod
    def of(cls, info: ObjectInfo) -> Listed:
        return cls(
            info.key,
            info.size,
            info.etag,
            epoch_ns(info.last_modified),
            tuple(info.meta.checksums),
            info.meta.storage_class,
        )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_ONE_US = dt.timedelta(microseconds=1)


def epoch_ns(when: dt.datetime) -> int:
    """``when`` in nanoseconds since the epoch, exactly (a naive datetime is local time, as
    ``astimezone`` takes it)."""
    return (when.astimezone(dt.timezone.utc) - _EPOCH) // _ONE_US * 1000


@dataclass
class ListedPage:
    """``ListPage`` in the light form: the same page, each object a ``Listed``."""

    objects: list[Listed]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None = None


@dataclass
class DeleteResult:
    """What a delete did: in a versioned bucket it made a delete marker (``delete_marker`` and its
    ``version_id``) or removed the version named, which may itself have been a marker."""

    version_id: str | None = None
    delete_marker: bool = False


@dataclass
class VersionEntry:
    """One version or delete marker in a version listing; ``is_latest`` marks the key's current one."""

    info: ObjectInfo
    is_latest: bool


@dataclass
class VersionsPage:
    """One page of ListObjectVersions: per key newest first, keys in UTF-8 binary order.

    Passing ``next_key_marker`` and ``next_version_id_marker`` back continues after the last entry; a
    page that ended on a common prefix has no version marker.
    """

    versions: list[VersionEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


#: Object Lock retention modes: GOVERNANCE yields to ``x-amz-bypass-governance-retention``, COMPLIANCE
#: to nothing before its date.
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")

#: Bucket versioning states as S3 reports them; None is a bucket that was never versioned.
VERSIONING_STATES = ("Enabled", "Suspended")


@dataclass
class ByteRange:
    """An HTTP byte range as the client asked for it, before the object size is known.

    ``first`` None means a suffix range (the last ``last`` bytes); ``last`` None means open-ended.
    """

    first: int | None
    last: int | None

    def resolve(self, size: int) -> tuple[int, int] | None:
        """Inclusive (start, end) within an object of ``size`` bytes, or None when unsatisfiable."""
        if self.first is None:
            if not self.last:
                return None
            return (max(0, size - self.last), size - 1) if size else None
        if self.first >= size:
            return None
        end = size - 1 if self.last is None else min(self.last, size - 1)
        return (self.first, end)


@dataclass
class GetResult:
    """An object being read: its info, the body stream and, for a range, the inclusive span served.

    The caller must exhaust or ``aclose()`` the body so the backend can release its connection.
    """

    info: ObjectInfo
    body: ByteStream
    span: tuple[int, int] | None = None


@dataclass
class PartInfo:
    part_number: int
    etag: str
    size: int
    last_modified: dt.datetime
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass
class ObjectPart:
    """One part of a completed multipart object: its place, its size and the checksums it was uploaded
    with (for GetObjectAttributes' ObjectParts and GetObject / HeadObject with ``partNumber``)."""

    part_number: int
    size: int
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass
class CompletedPart:
    """A part as the client names it in CompleteMultipartUpload."""

    part_number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass
class PartsPage:
    parts: list[PartInfo]
    is_truncated: bool
    next_part_number_marker: int | None = None


@dataclass
class UploadInfo:
    key: str
    upload_id: str
    initiated: dt.datetime


@dataclass
class UploadsPage:
    uploads: list[UploadInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_upload_id_marker: str | None = None


@dataclass(frozen=True)
class WriteCondition:
    """A write's precondition on the object it replaces, decided by the store in the same step as the write.

    ``if_none_match_star`` (``If-None-Match: *``): write only if the key holds no object, else
    PreconditionFailed. ``if_match`` (``If-Match: <etag>``, no quotes, or ``*``): write only if the key
    holds an object with that ETag, else PreconditionFailed (NoSuchKey when the key holds none, as S3
    answers). Racing conditional writers on one key get exactly one winner: a backend that cannot decide
    a condition atomically raises NotImplementedByBackend rather than check and write in two steps.
    """

    if_none_match_star: bool = False
    if_match: str | None = None

    def __bool__(self) -> bool:
        return self.if_none_match_star or self.if_match is not None

    def holds(self, current_etag: str | None) -> bool:
        """Whether the condition allows a write over ``current_etag`` (None: no object); for backends
        that decide under their own lock. Raises NoSuchKey for If-Match on a missing object."""
        if current_etag is None:
            if self.if_match is not None:
                raise NoSuchKey("The specified key does not exist.")
            return True
        if self.if_none_match_star:
            return False
        return self.if_match is None or self.if_match in ("*", current_etag)

    def refuse(self, what: str, backend: str, why: str) -> None:
        """For a backend that cannot decide a condition atomically: NotImplementedByBackend if there is one."""
        if self:
            raise NotImplementedByBackend(f"A conditional {what} cannot be decided {why}.", backend=backend)

    def check(self, current_etag: str | None) -> None:
        """``holds``, raising PreconditionFailed when it does not."""
        if not self.holds(current_etag):
            raise PreconditionFailed(detail=f"condition {self} failed on ETag {current_etag!r}")


#: No condition: the write replaces whatever the key holds.
ALWAYS = WriteCondition()


@dataclass(frozen=True)
class Capabilities:
    """How a backend's successful answers differ between providers, for the composites above it and the
    contract suite's expectations. What a backend cannot do at all needs no flag: the operation raises
    NotImplementedByBackend, which the front end answers as S3's NotImplemented."""

    #: The store copies natively (the router streams a copy between two backends itself).
    server_side_copy: bool = True
    #: Checksums computed while the body flowed are stored and returned on GET/HEAD.
    stores_checksums: bool = False
    #: Keys may start with ``/`` (OSS refuses them: such a put raises InvalidKey).
    leading_slash_keys: bool = True
    #: Objects are encrypted by the gateway (the ``encrypt`` composite): SSE-S3 and SSE-C are served.
    encryption: bool = False

    @classmethod
    def shared(cls, members: Iterable[Backend]) -> Capabilities:
        """What every member can do: for composites that need each member to do it (fallback, mirror).
        Server-side copy stays on, since a composite can always stream a copy itself."""
        caps = [m.capabilities for m in members]
        flags = {f.name: all(getattr(c, f.name) for c in caps) for f in fields(cls)}
        return cls(**{**flags, "server_side_copy": True})


class Backend:
    """The contract, answering "not implemented" for everything.

    Conventions every implementation follows:
    - bucket and key are the names the store uses (a router above may have rewritten them);
    - an upload commits only after its body iterator ended normally; on any exception nothing is left
      visible and the exception propagates unchanged if it came from the body;
    - listings are in UTF-8 binary order and honour ``start_after`` exclusively;
    - SDK failures are raised as ``backends.errors`` types, never raw.
    """

    name: str = "backend"
    capabilities: Capabilities = Capabilities()

    def capabilities_for(self, bucket: str) -> Capabilities:
        """The capabilities serving ``bucket`` (a router answers for the backend the bucket routes to)."""
        return self.capabilities

    def _unsupported(self, what: str) -> NotImplementedByBackend:
        return NotImplementedByBackend(
            f"{what} is not implemented by the {self.name} backend.", backend=self.name
        )

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open connections or pools; called once before the first request."""

    async def close(self) -> None:
        """Release connections, pools and threads."""

    async def check(self) -> None:
        """Raise a BackendError when the store cannot serve requests (used by readiness checks)."""
        await self.list_buckets()

    # -- buckets -----------------------------------------------------------------------------------
    async def list_buckets(self) -> list[BucketInfo]:
        raise self._unsupported("ListBuckets")

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        raise self._unsupported("CreateBucket")

    async def delete_bucket(self, bucket: str) -> None:
        raise self._unsupported("DeleteBucket")

    async def head_bucket(self, bucket: str) -> BucketInfo:
        raise self._unsupported("HeadBucket")

    # -- objects -----------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        """Store an object; ``cond`` (see WriteCondition) is decided in the same step as the write."""
        raise self._unsupported("PutObject")

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        """Open an object (the current version, or ``version_id``) for reading; raises InvalidRange (with
        ``size``) when the range is unsatisfiable. See ``head_object`` for versions and markers."""
        raise self._unsupported("GetObject")

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """The object's info. A key whose current version is a delete marker raises
        DeleteMarkerCurrent (a NoSuchKey); ``version_id`` naming a marker raises DeleteMarkerVersion
        (MethodNotAllowed); an id the store never made raises NoSuchVersion (or InvalidArgument when it
        cannot be one of the store's ids)."""
        raise self._unsupported("HeadObject")

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        """``info`` (from this backend's HEAD or GET of the key) with the object's stored checksums, for
        the answers that show them (``x-amz-checksum-mode: ENABLED``, GetObjectAttributes). A backend
        that returns them with every read (fs) returns ``info`` as it is; one that keeps them apart
        (object records) looks them up only here, so plain reads pay nothing for them."""
        return info

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        """Delete a key (in a versioned bucket: add a delete marker) or, with ``version_id``, remove that
        version for good; a missing key or version is success, a missing bucket is NoSuchBucket. None is
        an unversioned delete (the same as an empty DeleteResult)."""
        raise self._unsupported("DeleteObject")

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta | None,
        cond: WriteCondition = ALWAYS,
        src_version_id: str | None = None,
    ) -> ObjectInfo:
        """Server-side copy (of ``src_version_id`` when given); ``meta`` None keeps the source's metadata
        (directive COPY); ``cond`` is on the destination."""
        raise self._unsupported("CopyObject")

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        raise self._unsupported("ListObjects")

    async def list_objects_listed(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListedPage:
        """``list_objects`` in its light form: the same page, the same errors. The default derives it
        from ``list_objects`` (so a composite that changes what it lists, as encrypt changes sizes, is
        right without a line); a backend overrides it only where it can build the page cheaper."""
        page = await self.list_objects(bucket, prefix, delimiter, start_after, max_keys)
        return ListedPage(
            [Listed.of(o) for o in page.objects], page.common_prefixes, page.is_truncated, page.next_marker
        )

    # -- versioning --------------------------------------------------------------------------------
    # A backend that keeps no versions answers as S3 does for a bucket never versioned: the defaults
    # below say so, each object being its one version ``null``; enabling versioning is refused.

    async def get_bucket_versioning(self, bucket: str) -> str | None:
        """``Enabled``, ``Suspended``, or None for a bucket never versioned; NoSuchBucket when missing."""
        await self.head_bucket(bucket)
        return None

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        """Set ``status`` (one of VERSIONING_STATES); a bucket once versioned never returns to None."""
        raise self._unsupported("PutBucketVersioning")

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        """Versions and delete markers after (``key_marker``, ``version_id_marker``); with no version
        marker the listing starts after every version of ``key_marker``."""
        if version_id_marker not in ("", "null"):
            raise InvalidArgument("Invalid version id specified")
        page = await self.list_objects(bucket, prefix, delimiter, key_marker, max_keys)
        entries = [VersionEntry(replace(obj, version_id="null"), True) for obj in page.objects]
        next_version = (
            "null" if page.is_truncated and page.next_marker in [o.key for o in page.objects] else None
        )
        return VersionsPage(
            entries,
            page.common_prefixes,
            page.is_truncated,
            page.next_marker if page.is_truncated else None,
            next_version,
        )

    # -- object lock -------------------------------------------------------------------------------
    # A backend that serves Object Lock enforces it itself: a version under retention or legal hold is
    # never removed or changed against the rules, whatever the caller. The bucket's configuration
    # (default retention) is a bucket setting the gateway evaluates; only ``enable_object_lock``
    # succeeding lets the gateway give ObjectMeta lock fields to this backend.

    async def enable_object_lock(self, bucket: str) -> None:
        """Turn Object Lock on for good: versioning becomes Enabled and can never be suspended."""
        raise self._unsupported("Object Lock")

    async def put_object_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        mode: str | None,
        retain_until: str | None,
        bypass_governance: bool = False,
    ) -> ObjectInfo:
        """Set a version's retention (``mode`` None removes it). Shortening or removing a GOVERNANCE
        retention needs ``bypass_governance``; a COMPLIANCE one is never shortened, removed or weakened
        before its date (ObjectLocked)."""
        raise self._unsupported("Object Lock")

    async def put_object_legal_hold(
        self, bucket: str, key: str, version_id: str | None, on: bool
    ) -> ObjectInfo:
        """Place or release a version's legal hold."""
        raise self._unsupported("Object Lock")

    async def delete_object_bypassing_governance(
        self, bucket: str, key: str, version_id: str
    ) -> DeleteResult:
        """DeleteObject of a version with ``x-amz-bypass-governance-retention: true``: as
        ``delete_object``, except that a GOVERNANCE retention does not stop it (COMPLIANCE and legal
        holds still do)."""
        raise self._unsupported("Object Lock")

    # -- multipart ---------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        raise self._unsupported("CreateMultipartUpload")

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        raise self._unsupported("UploadPart")

    async def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        src_range: tuple[int, int] | None,
    ) -> PartInfo:
        """Copy a source object (or the inclusive byte span ``src_range`` of it) into a part."""
        raise self._unsupported("UploadPartCopy")

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        """Assemble the parts into the object; when ``cond`` fails the upload stays, as on S3."""
        raise self._unsupported("CompleteMultipartUpload")

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        raise self._unsupported("AbortMultipartUpload")

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        raise self._unsupported("ListParts")

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        raise self._unsupported("ListMultipartUploads")

    # -- object tagging --------------------------------------------------------------------------
    # Tags set with the object travel in ``ObjectMeta.tags``; these read and replace them afterwards,
    # leaving data, ETag and metadata as they are. ``version_id`` None (or "null") is the current object.

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        """The object's tags (empty when it has none); NoSuchKey when there is no object."""
        raise self._unsupported("GetObjectTagging")

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        """Replace the object's whole tag set, atomically (a reader sees the old or the new set)."""
        raise self._unsupported("PutObjectTagging")

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        """Remove every tag of the object; NoSuchKey when there is no object."""
        raise self._unsupported("DeleteObjectTagging")

    # -- object parts ----------------------------------------------------------------------------
    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        """(the object's ETag, the parts it was completed from, in order), or None when the object was
        not uploaded in parts; NotImplementedByBackend where the store cannot tell its part boundaries.
        The ETag lets the caller check that a later read met the same object."""
        raise self._unsupported("Object part boundaries")

    # -- bucket settings -------------------------------------------------------------------------
    # Documents the gateway evaluates itself (ACLs, policy, CORS, ownership, public-access block,
    # default encryption, ...): the provider's principals are not the gateway's key pairs, so the
    # gateway keeps these in the store (fs: its state directory; s3/oss/obs: a metadata bucket), never
    # in one process's memory. ``name`` is one of BUCKET_SETTINGS; the document is opaque bytes.

    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        """The document stored under ``name`` for ``bucket``, None when unset; NoSuchBucket when the
        bucket does not exist."""
        raise self._unsupported("Bucket settings")

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        """Replace the document (atomically: a reader sees the old or the new one, never a mix)."""
        raise self._unsupported("Bucket settings")

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        """Remove the document; an unset one is success."""
        raise self._unsupported("Bucket settings")


#: The bucket settings a backend keeps for the gateway (see Backend.get_bucket_setting).
BUCKET_SETTINGS = frozenset(
    {
        "acl",
        "policy",
        "cors",
        "ownership",
        "public-access-block",
        "encryption",
        "tagging",
        "versioning",
        "object-lock",
        "owner",
        "lifecycle",
    }
)


def check_setting_name(name: str) -> str:
    """``name`` if it is one of BUCKET_SETTINGS; a ValueError (a bug in the caller) otherwise."""
    if name not in BUCKET_SETTINGS:
        raise ValueError(f"unknown bucket setting {name!r}")
    return name


MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000
MAX_KEY_BYTES = 1024


def only_null_version(version_id: str | None) -> None:
    """For a backend that keeps no versions: ``null`` is the object itself (as in a bucket never
    versioned), any other id is S3's InvalidArgument."""
    if version_id is not None and version_id != "null":
        raise InvalidArgument("Invalid version id specified")
