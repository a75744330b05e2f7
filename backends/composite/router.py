"""The router: the client-visible bucket decides which backend, which remote bucket and which key prefix.

Routes are tried in order and the first whose pattern (an exact name or an ``fnmatch`` glob, matched
case-sensitively) matches wins; the default backend takes the rest under their own names. A route may
fix the remote bucket (``photos`` → ``prod-photos`` on s3) and put every key under a prefix inside it,
so several client buckets can share one remote bucket. The prefix is invisible to clients: it is added
to every key, listing prefix, start_after and key marker going down, and stripped from every key,
common prefix and marker coming back.

A route whose remote bucket other client buckets share (it has a prefix, or is a glob, or another
route names the same remote bucket on the same backend) is a *view*: its lifecycle belongs to the
operator's configuration and to the remote bucket, not to clients. The view exists exactly when its
remote bucket does (HeadBucket, ListBuckets); DeleteBucket on a view never reaches the store and
answers MethodNotAllowed (NoSuchBucket when the remote bucket is missing), so no client can delete the
other prefixes, routes and tenants living there; CreateBucket answers BucketAlreadyOwnedByYou when the
remote bucket exists and MethodNotAllowed when it does not (the operator creates shared buckets).

Multipart upload ids pass through unchanged: the bucket alone picks the backend, so every request of an
upload reaches the backend that started it and the gateway keeps no state.

A copy within one backend stays server-side, even across remote buckets. Across backends it streams the
source's GET into the destination's PUT (a ranged GET into UploadPart for UploadPartCopy), a chunk at a
time.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pydantic

from backends import errors as be
from backends.base import (
    ALWAYS,
    Backend,
    BucketInfo,
    ByteRange,
    Capabilities,
    CompletedPart,
    DeleteResult,
    GetResult,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    ObjectPart,
    PartInfo,
    PartsPage,
    PutBody,
    UploadsPage,
    VersionsPage,
    WriteCondition,
)
from backends.composite.forwarding import close_members, distinct, start_members
from backends.composite.streams import copy_across, part_copy_across
from backends.served import mark


@dataclass(frozen=True)
class Route:
    pattern: str
    backend: Backend
    #: None: the remote bucket has the client's bucket name.
    remote_bucket: str | None = None
    prefix: str = ""

    @property
    def is_glob(self) -> bool:
        return any(c in self.pattern for c in "*?[")

    def matches(self, bucket: str) -> bool:
        return fnmatch.fnmatchcase(bucket, self.pattern)


@dataclass(frozen=True)
class Target:
    """Where one client bucket lives."""

    backend: Backend
    bucket: str
    prefix: str
    #: The remote bucket is shared with other client buckets: this one is only a view of it.
    view: bool = False

    def key(self, key: str) -> str:
        return self.prefix + key

    def strip(self, key: str) -> str:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    def info(self, info: ObjectInfo) -> ObjectInfo:
        return replace(info, key=self.strip(info.key)) if self.prefix else info

    def marker(self, marker: str) -> str:
        return self.prefix + marker if marker else ""


class RouteSettings(pydantic.BaseModel):
    """One route of the configuration (``routes:`` in gateway.yaml), backend named, not yet resolved."""

    model_config = pydantic.ConfigDict(extra="forbid")

    #: Client-visible bucket name or glob (``*`` matches any name).
    bucket: str = pydantic.Field(min_length=1)
    backend: str
    #: The bucket in the store; None keeps the client's name.
    remote_bucket: str | None = None
    #: A key prefix inside the remote bucket.
    prefix: str = ""


class Router(Backend):
    def __init__(self, routes: Sequence[Route], default: Backend | None = None, *, name: str = "router"):
        self.name = name
        self.routes = list(routes)
        if default is not None:
            self.routes.append(Route("*", default))
        self._shared = _shared_remotes(self.routes)
        members = self._backends()
        if not members:
            raise ValueError("a router needs at least one route or a default backend")
        self.capabilities = Capabilities(
            server_side_copy=True,  # across backends the router streams the copy itself
            stores_checksums=all(b.capabilities.stores_checksums for b in members),
            leading_slash_keys=all(b.capabilities.leading_slash_keys for b in members),
        )

    @classmethod
    def from_routes(
        cls,
        routes: Sequence[dict[str, object]],
        lookup: Callable[[str], Backend],
        default: str | None = None,
        *,
        name: str = "router",
    ) -> Router:
        """Build from configuration: ``{bucket, backend, remote_bucket?, prefix?}`` dicts, backend names."""
        parsed = [RouteSettings.model_validate(r) for r in routes]
        return cls(
            [Route(r.bucket, lookup(r.backend), r.remote_bucket, r.prefix) for r in parsed],
            lookup(default) if default is not None else None,
            name=name,
        )

    def _backends(self) -> list[Backend]:
        return distinct(r.backend for r in self.routes)

    def route_for(self, bucket: str) -> Route | None:
        return next((r for r in self.routes if r.matches(bucket)), None)

    def capabilities_for(self, bucket: str) -> Capabilities:
        route = self.route_for(bucket)
        if route is None:
            return self.capabilities
        return route.backend.capabilities_for(route.remote_bucket or bucket)

    def resolve(self, bucket: str) -> Target:
        route = self.route_for(bucket)
        if route is None:
            raise be.NoSuchBucket(detail=f"no route for bucket {bucket!r}", backend=self.name)
        mark(route.backend.name)
        view = route.remote_bucket is not None and (
            bool(route.prefix) or route.is_glob or (id(route.backend), route.remote_bucket) in self._shared
        )
        return Target(route.backend, route.remote_bucket or bucket, route.prefix, view)

    # -- lifecycle and buckets ---------------------------------------------------------------------
    async def start(self) -> None:
        await start_members(self._backends())

    async def close(self) -> None:
        await close_members(self._backends())

    async def check(self) -> None:
        for backend in self._backends():
            await backend.check()

    async def list_buckets(self) -> list[BucketInfo]:
        """The buckets clients can reach: fixed routes whose remote bucket exists, and the routed
        backends' own buckets that resolve to the route they were listed through."""
        found: dict[str, BucketInfo] = {}
        listed: dict[int, list[BucketInfo]] = {}
        for route in self.routes:
            if route.remote_bucket is not None:
                if route.is_glob or self.route_for(route.pattern) is not route:
                    continue  # a glob names no bucket to show; a shadowed name is served by another route
                try:
                    remote = await route.backend.head_bucket(route.remote_bucket)
                except be.NoSuchBucket:
                    continue
                found.setdefault(route.pattern, BucketInfo(route.pattern, remote.created))
                continue
            if id(route.backend) not in listed:
                listed[id(route.backend)] = await route.backend.list_buckets()
            for info in listed[id(route.backend)]:
                if self.route_for(info.name) is route:
                    found.setdefault(info.name, info)
        return sorted(found.values(), key=lambda b: b.name.encode())

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        t = self.resolve(bucket)
        if t.view:  # creating the shared remote bucket would conjure every other view of it too
            try:
                await t.backend.head_bucket(t.bucket)
            except be.NoSuchBucket:
                raise be.MethodNotAllowed(
                    f"Bucket {bucket} is a view of a shared remote bucket the operator creates.",
                    backend=self.name,
                ) from None
            raise be.BucketAlreadyOwnedByYou(detail=bucket, backend=self.name)
        await t.backend.create_bucket(t.bucket, region)

    async def delete_bucket(self, bucket: str) -> None:
        t = self.resolve(bucket)
        if t.view:  # other prefixes, routes and tenants live in the remote bucket: never delete it
            await t.backend.head_bucket(t.bucket)  # a missing remote bucket is NoSuchBucket, as S3 says
            raise be.MethodNotAllowed(
                f"Bucket {bucket} is a view of a shared remote bucket; it is removed by configuration.",
                backend=self.name,
            )
        await t.backend.delete_bucket(t.bucket)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        t = self.resolve(bucket)
        info = await t.backend.head_bucket(t.bucket)
        return BucketInfo(bucket, info.created)

    # -- bucket settings -----------------------------------------------------------------------------
    def _settings_target(self, bucket: str) -> Target:
        """A view shares its remote bucket with other names: a setting there would apply to all of them."""
        t = self.resolve(bucket)
        if t.view:
            raise be.NotImplementedByBackend(
                f"Bucket {bucket} is a view of a shared remote bucket: its settings cannot be kept apart "
                "from the other names on that bucket.",
                backend=self.name,
            )
        return t

    async def get_bucket_setting(self, bucket: str, name: str) -> bytes | None:
        t = self._settings_target(bucket)
        return await t.backend.get_bucket_setting(t.bucket, name)

    async def put_bucket_setting(self, bucket: str, name: str, document: bytes) -> None:
        t = self._settings_target(bucket)
        await t.backend.put_bucket_setting(t.bucket, name, document)

    async def delete_bucket_setting(self, bucket: str, name: str) -> None:
        t = self._settings_target(bucket)
        await t.backend.delete_bucket_setting(t.bucket, name)

    # -- objects -----------------------------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        t = self.resolve(bucket)
        return t.info(await t.backend.put_object(t.bucket, t.key(key), body, meta, cond))

    async def get_object(
        self, bucket: str, key: str, range: ByteRange | None = None, version_id: str | None = None
    ) -> GetResult:
        t = self.resolve(bucket)
        got = await t.backend.get_object(t.bucket, t.key(key), range, version_id)
        return replace(got, info=t.info(got.info))

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        t = self.resolve(bucket)
        return t.info(await t.backend.head_object(t.bucket, t.key(key), version_id))

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteResult | None:
        t = self.resolve(bucket)
        return await t.backend.delete_object(t.bucket, t.key(key), version_id)

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        t = self.resolve(bucket)
        return await t.backend.get_object_tagging(t.bucket, t.key(key), version_id=version_id)

    async def put_object_tagging(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> None:
        t = self.resolve(bucket)
        await t.backend.put_object_tagging(t.bucket, t.key(key), tags, version_id=version_id)

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        t = self.resolve(bucket)
        await t.backend.delete_object_tagging(t.bucket, t.key(key), version_id=version_id)

    async def object_parts(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[str, list[ObjectPart]] | None:
        t = self.resolve(bucket)
        return await t.backend.object_parts(t.bucket, t.key(key), version_id=version_id)

    async def stored_checksums(self, bucket: str, key: str, info: ObjectInfo) -> ObjectInfo:
        t = self.resolve(bucket)
        inner = replace(info, key=t.key(key))
        found = await t.backend.stored_checksums(t.bucket, t.key(key), inner)
        return replace(info, meta=found.meta)

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
        s, d = self.resolve(src_bucket), self.resolve(dst_bucket)
        if s.backend is d.backend and d.backend.capabilities.server_side_copy:
            info = await d.backend.copy_object(
                s.bucket, s.key(src_key), d.bucket, d.key(dst_key), meta, cond, src_version_id
            )
        else:
            info = await copy_across(
                s.backend, s.bucket, s.key(src_key), d.backend, d.bucket, d.key(dst_key), meta, cond,
                src_version_id,
            )  # fmt: skip
        return d.info(info)

    # -- object lock: the member's own ------------------------------------------------------------
    async def enable_object_lock(self, bucket: str) -> None:
        t = self._settings_target(bucket)  # its configuration is a setting of the whole remote bucket
        await t.backend.enable_object_lock(t.bucket)

    async def put_object_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        mode: str | None,
        retain_until: str | None,
        bypass_governance: bool = False,
    ) -> ObjectInfo:
        t = self.resolve(bucket)
        return t.info(
            await t.backend.put_object_retention(
                t.bucket, t.key(key), version_id, mode, retain_until, bypass_governance
            )
        )

    async def put_object_legal_hold(
        self, bucket: str, key: str, version_id: str | None, on: bool
    ) -> ObjectInfo:
        t = self.resolve(bucket)
        return t.info(await t.backend.put_object_legal_hold(t.bucket, t.key(key), version_id, on))

    async def delete_object_bypassing_governance(
        self, bucket: str, key: str, version_id: str
    ) -> DeleteResult:
        t = self.resolve(bucket)
        return await t.backend.delete_object_bypassing_governance(t.bucket, t.key(key), version_id)

    # -- versioning --------------------------------------------------------------------------------
    async def get_bucket_versioning(self, bucket: str) -> str | None:
        t = self.resolve(bucket)
        return await t.backend.get_bucket_versioning(t.bucket)

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        t = self._settings_target(bucket)  # a view would switch every other view of the remote bucket
        await t.backend.put_bucket_versioning(t.bucket, status)

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionsPage:
        t = self.resolve(bucket)
        page = await t.backend.list_object_versions(
            t.bucket, t.key(prefix), delimiter, t.marker(key_marker), version_id_marker, max_keys
        )
        if not t.prefix:
            return page
        return VersionsPage(
            versions=[replace(v, info=t.info(v.info)) for v in page.versions],
            common_prefixes=[t.strip(p) for p in page.common_prefixes],
            is_truncated=page.is_truncated,
            next_key_marker=t.strip(page.next_key_marker) if page.next_key_marker is not None else None,
            next_version_id_marker=page.next_version_id_marker,
        )

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        t = self.resolve(bucket)
        page = await t.backend.list_objects(
            t.bucket, t.key(prefix), delimiter, t.marker(start_after), max_keys
        )
        if not t.prefix:
            return page
        return ListPage(
            objects=[t.info(o) for o in page.objects],
            common_prefixes=[t.strip(p) for p in page.common_prefixes],
            is_truncated=page.is_truncated,
            next_marker=t.strip(page.next_marker) if page.next_marker is not None else None,
        )

    # -- multipart ---------------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        t = self.resolve(bucket)
        return await t.backend.create_multipart_upload(t.bucket, t.key(key), meta)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        t = self.resolve(bucket)
        return await t.backend.upload_part(t.bucket, t.key(key), upload_id, part_number, body)

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
        s, d = self.resolve(src_bucket), self.resolve(bucket)
        if s.backend is d.backend and d.backend.capabilities.server_side_copy:
            return await d.backend.upload_part_copy(
                d.bucket, d.key(key), upload_id, part_number, s.bucket, s.key(src_key), src_range
            )
        return await part_copy_across(
            s.backend,
            s.bucket,
            s.key(src_key),
            src_range,
            d.backend,
            d.bucket,
            d.key(key),
            upload_id,
            part_number,
        )

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        t = self.resolve(bucket)
        return t.info(await t.backend.complete_multipart_upload(t.bucket, t.key(key), upload_id, parts, cond))

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        t = self.resolve(bucket)
        await t.backend.abort_multipart_upload(t.bucket, t.key(key), upload_id)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        t = self.resolve(bucket)
        return await t.backend.list_parts(t.bucket, t.key(key), upload_id, part_number_marker, max_parts)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadsPage:
        t = self.resolve(bucket)
        page = await t.backend.list_multipart_uploads(
            t.bucket, t.key(prefix), delimiter, t.marker(key_marker), upload_id_marker, max_uploads
        )
        if not t.prefix:
            return page
        return replace(
            page,
            uploads=[replace(u, key=t.strip(u.key)) for u in page.uploads],
            common_prefixes=[t.strip(p) for p in page.common_prefixes],
            next_key_marker=t.strip(page.next_key_marker) if page.next_key_marker is not None else None,
        )


def _shared_remotes(routes: Sequence[Route]) -> set[tuple[int, str]]:
    """(backend, remote bucket) pairs that more than one route names: each route is a view of it."""
    seen: set[tuple[int, str]] = set()
    shared: set[tuple[int, str]] = set()
    for route in routes:
        if route.remote_bucket is not None:
            pair = (id(route.backend), route.remote_bucket)
            (shared if pair in seen else seen).add(pair)
    return shared
