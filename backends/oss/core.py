"""The OSS backend's foundation: the oss2 clients and their thread pool, error mapping of each call,
buckets, and the HEAD every other part builds on (oss backend, oss multipartops)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import oss2

from backends import errors as be
from backends.base import (
    Backend,
    BucketInfo,
    Capabilities,
    ObjectInfo,
    WriteCondition,
)
from backends.bridge import BlockingPool
from backends.metabucket import MetaBucketSettings
from backends.oss.settings import MiB, Settings
from backends.oss.support import (
    etag,
    from_iso,
    from_unix,
    headers_to_meta,
    make_session,
    translate,
)
from backends.oss.tagging import OssTagging
from backends.oss.versions import version_params

T = TypeVar("T")
#: OSS's CopyObject limit; larger sources are copied part by part.
MAX_COPY_OBJECT = 1024 * MiB

# oss2 logs request headers (security token included) at DEBUG: keep it quieter unless asked.
if logging.getLogger("oss2").level == logging.NOTSET:
    logging.getLogger("oss2").setLevel(logging.INFO)

#: oss2.Bucket objects kept for reuse (cheap to rebuild; they share the one requests session).
MAX_CACHED_BUCKETS = 256


class OssCore(MetaBucketSettings, OssTagging, Backend):
    capabilities = Capabilities(server_side_copy=True, stores_checksums=False, leading_slash_keys=False)

    def __init__(self, settings: Settings, name: str):
        self.name = name
        self.settings = settings
        self.meta_bucket = settings.meta_bucket
        self._pool: BlockingPool | None = None
        self._session: oss2.Session | None = None
        self._buckets: dict[str, oss2.Bucket] = {}
        self._lock = threading.Lock()
        s = settings
        if s.security_token:
            self._auth: Any = oss2.StsAuth(
                s.access_key_id, s.access_key_secret, s.security_token, s.auth_version
            )
        elif s.auth_version == "v4":
            self._auth = oss2.AuthV4(s.access_key_id, s.access_key_secret)
        else:
            self._auth = oss2.Auth(s.access_key_id, s.access_key_secret)

    def __repr__(self) -> str:
        return f"OssBackend(name={self.name!r}, endpoint={self.settings.endpoint!r})"

    # -- plumbing --------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._pool is None:
            self._pool = BlockingPool(self.settings.max_workers, name=f"oss-{self.name}")
            self._session = make_session(self.settings.max_workers, self.settings.connect_address)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._session is not None:
            self._session.session.close()
            self._session = None
        self._buckets.clear()

    @property
    def pool(self) -> BlockingPool:
        if self._pool is None:
            raise be.BackendUnavailable("The OSS backend is not started.", backend=self.name)
        return self._pool

    def _bucket(self, name: str) -> oss2.Bucket:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                if len(self._buckets) >= MAX_CACHED_BUCKETS:  # clients pick the names: stay bounded
                    self._buckets.clear()
                bucket = oss2.Bucket(
                    self._auth,
                    self.settings.endpoint,
                    name,
                    session=self._session,
                    connect_timeout=self.settings.connect_timeout,
                    region=self.settings.region,
                )
                self._buckets[name] = bucket
            return bucket

    def _service(self) -> oss2.Service:
        return oss2.Service(
            self._auth,
            self.settings.endpoint,
            session=self._session,
            connect_timeout=self.settings.connect_timeout,
            region=self.settings.region,
        )

    async def _run(
        self, fn: Callable[..., T], *args: Any, missing: type[be.BackendError] = be.NoSuchKey, **kwargs: Any
    ) -> T:
        try:
            return await self.pool.run(fn, *args, **kwargs)
        except Exception as exc:
            raise translate(exc, self.name, missing=missing) from exc

    # -- buckets ---------------------------------------------------------------------------------
    async def check(self) -> None:
        if self.settings.bucket:
            await self.head_bucket(self.settings.bucket)
        else:
            await self.list_buckets()

    async def list_buckets(self) -> list[BucketInfo]:
        service = self._service()
        out: list[BucketInfo] = []
        marker = ""
        for _ in range(10_000):
            page = await self._run(service.list_buckets, marker=marker, max_keys=1000)
            out += [BucketInfo(b.name, from_unix(b.creation_date)) for b in page.buckets]
            if not page.is_truncated or not page.next_marker:
                break
            marker = page.next_marker
        return self._visible(out)

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        if region and region != self.settings.region:
            raise be.InvalidArgument(
                f"This OSS endpoint serves region {self.settings.region}, not {region}.", backend=self.name
            )
        try:
            await self._run(self._bucket(bucket).create_bucket, missing=be.NoSuchBucket)
            await self._forget_settings(bucket)
        except be.BucketAlreadyExists as exc:
            try:
                await self.head_bucket(bucket)
            except be.BackendError:
                raise exc from None
            raise be.BucketAlreadyOwnedByYou(detail=exc.detail, backend=self.name) from None

    async def delete_bucket(self, bucket: str) -> None:
        await self._run(self._bucket(bucket).delete_bucket, missing=be.NoSuchBucket)
        await self._forget_settings(bucket)

    async def head_bucket(self, bucket: str) -> BucketInfo:
        info = await self._run(self._bucket(bucket).get_bucket_info, missing=be.NoSuchBucket)
        return BucketInfo(info.name, from_iso(info.creation_date))

    def _condition(self, cond: WriteCondition) -> dict[str, str]:
        """A write condition as OSS headers: ``If-None-Match: *`` is ``x-oss-forbid-overwrite: true``
        (create only, decided by OSS with the write; 409 FileAlreadyExists → PreconditionFailed).
        OSS has no atomic If-Match on writes: refused rather than checked and written in two steps."""
        if cond.if_match is not None:
            raise be.NotImplementedByBackend(
                "A write with If-Match cannot be decided atomically by OSS.", backend=self.name
            )
        return {"x-oss-forbid-overwrite": "true"} if cond.if_none_match_star else {}

    def _info(self, key: str, result: Any, size: int | None = None) -> ObjectInfo:
        headers = result.headers
        if size is None:
            size = int(headers.get("content-length") or 0)
        return ObjectInfo(
            key,
            size,
            etag(result.etag),
            from_unix(result.last_modified),
            headers_to_meta(headers),
            headers.get("x-oss-version-id"),
        )

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        params = version_params(version_id)
        try:
            result = await self._run(self._bucket(bucket).head_object, key, params=params)
        except be.NoSuchKey as exc:  # a HEAD 404 names no code
            if version_id is None or isinstance(exc, be.DeleteMarkerCurrent):
                raise
            await self.head_bucket(bucket)
            raise be.NoSuchVersion(detail=exc.detail, backend=self.name) from None
        return self._info(key, result)
