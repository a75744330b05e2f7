"""Retry with capped exponential back-off and full jitter, within a per-request deadline.

Only ``BackendError.retryable`` failures are retried (SlowDown, BackendUnavailable, InternalBackendError):
everything else is an answer, and asking again would get the same one. A failure of the client's own
body is never a backend error and is never retried. The wait before attempt n+1 is uniform in
``[0, min(max_delay, base_delay * 2**n)]`` ("full jitter": many gateways retrying at once spread out
instead of hammering a recovering store in waves). No attempt starts after ``deadline`` seconds from the
first: a client's own timeout is usually not much longer, and an answer after it is wasted. The deadline
bounds when to try again, not how long one attempt may run: a 5 GiB upload must not be cut, and hung
connections are bounded by each provider's socket timeouts.

Decision table:

=============================== ========= ==========================================================
operation                       retried?  why / what a retry may see
=============================== ========= ==========================================================
list_buckets, head_bucket,      yes       reads, no side effect
head_object, list_objects,
list_parts, list_multipart_
uploads
get_object                      yes       opening only; once body bytes reached the client a failure
                                          mid-stream propagates (the client saw a partial body and
                                          retries with a range itself)
put_object, upload_part         only if   the body is the client's stream and is read once; a retry
                                unread    can only send it if no byte was pulled yet (TrackedBody).
                                          Once bytes are gone the error propagates; the client's SDK
                                          retries the whole request, which is the only holder of the
                                          bytes. Never spooled to memory or disk to make it replayable.
delete_object                   yes       idempotent: a missing key is success
delete_bucket                   yes       idempotent; NoSuchBucket after a failed attempt means that
                                          attempt deleted it, so it is success
create_bucket                   yes       BucketAlreadyOwnedByYou after a failed attempt means that
                                          attempt created it, so it is success (as us-east-1 answers)
copy_object, upload_part_copy   yes       same source, same destination, same result
create_multipart_upload         yes       a failed attempt may still have created an upload whose id
                                          never reached us: an orphan. It holds no parts, costs
                                          nothing but a line in ListMultipartUploads, and is reaped by
                                          the store's abort-incomplete-uploads lifecycle rule. Failing
                                          the client instead would make it retry anyway, with the same
                                          orphan.
complete_multipart_upload       yes       NoSuchUpload after a failed attempt means that attempt may
                                          have completed it: when the object's ETag is the multipart
                                          ETag of exactly these parts, that is success
abort_multipart_upload          yes       NoSuchUpload after a failed attempt means it was aborted
=============================== ========= ==========================================================

A write condition (``If-None-Match: *``, ``If-Match``) goes to every attempt unchanged. When an attempt
that failed had in fact written, the retry answers PreconditionFailed, as the client's own retry of that
request would on S3; a Complete whose retry finds NoSuchUpload still settles by the ETag as above.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal, TypeVar

import anyio
import pydantic

from backends import errors as be
from backends.base import (
    ALWAYS,
    Backend,
    CompletedPart,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PutBody,
    WriteCondition,
)
from backends.bridge import DEFAULT_THREADS
from backends.composite.forwarding import Forwarding
from backends.composite.streams import TrackedBody

T = TypeVar("T")

log = logging.getLogger("s3bridge.retry")

#: What to do with a non-retryable error seen on an attempt after a retryable failure.
Settle = Callable[[be.BackendError], Awaitable[Any]]


class Retry(Forwarding):
    def __init__(
        self,
        inner: Backend,
        attempts: int = 3,
        base_delay: float = 0.1,
        max_delay: float = 2.0,
        deadline: float = 10.0,
        *,
        name: str | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(inner, name=name)
        if attempts < 1 or base_delay < 0 or max_delay < 0 or deadline < 0:
            raise ValueError("attempts must be >= 1 and delays and deadline >= 0")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.deadline = deadline
        self._rng = rng or random.Random()
        self._clock = clock
        #: Retries performed (attempts after the first), for metrics.
        self.retries = 0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (0-based): full jitter under a cap."""
        return self._rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return await self._run(fn, args)

    async def _run(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        *,
        replayable: Callable[[], bool] | None = None,
        settle: Settle | None = None,
    ) -> T:
        give_up_at = self._clock() + self.deadline
        attempt = 0
        while True:
            try:
                return await fn(*args)
            except be.BackendError as exc:
                if not exc.retryable:
                    if attempt and settle is not None:
                        return await settle(exc)  # type: ignore[no-any-return]
                    raise
                if attempt + 1 >= self.attempts or (replayable is not None and not replayable()):
                    raise
                delay = self.backoff(attempt)
                if self._clock() + delay > give_up_at:
                    raise
                log.info("retrying %s on %s in %.3fs after: %s", fn.__name__, self.inner.name, delay, exc)
            attempt += 1
            self.retries += 1
            await anyio.sleep(delay)

    async def put_object(
        self, bucket: str, key: str, body: PutBody, meta: ObjectMeta, cond: WriteCondition = ALWAYS
    ) -> ObjectInfo:
        tracked = TrackedBody(body)
        return await self._run(
            self.inner.put_object, (bucket, key, tracked, meta, cond), replayable=lambda: not tracked.consumed
        )

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: PutBody
    ) -> PartInfo:
        tracked = TrackedBody(body)
        return await self._run(
            self.inner.upload_part,
            (bucket, key, upload_id, part_number, tracked),
            replayable=lambda: not tracked.consumed,
        )

    async def create_bucket(self, bucket: str, region: str | None = None) -> None:
        async def settle(exc: be.BackendError) -> None:
            if not isinstance(exc, be.BucketAlreadyOwnedByYou):
                raise exc

        await self._run(self.inner.create_bucket, (bucket, region), settle=settle)

    async def delete_bucket(self, bucket: str) -> None:
        async def settle(exc: be.BackendError) -> None:
            if not isinstance(exc, be.NoSuchBucket):
                raise exc

        await self._run(self.inner.delete_bucket, (bucket,), settle=settle)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        async def settle(exc: be.BackendError) -> None:
            if not isinstance(exc, be.NoSuchUpload):
                raise exc

        await self._run(self.inner.abort_multipart_upload, (bucket, key, upload_id), settle=settle)

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[CompletedPart],
        cond: WriteCondition = ALWAYS,
    ) -> ObjectInfo:
        async def settle(exc: be.BackendError) -> ObjectInfo:
            expected = multipart_etag(parts)
            if isinstance(exc, be.NoSuchUpload) and expected is not None:
                info = await self._run(self.inner.head_object, (bucket, key))
                if info.etag == expected:
                    return info
            raise exc

        return await self._run(
            self.inner.complete_multipart_upload, (bucket, key, upload_id, parts, cond), settle=settle
        )


def multipart_etag(parts: list[CompletedPart]) -> str | None:
    """The ETag S3 gives the object these parts complete into, or None when a part ETag is not an MD5."""
    digests = []
    for part in parts:
        try:
            digest = bytes.fromhex(part.etag.strip('"'))
        except ValueError:
            return None
        if len(digest) != 16:
            return None
        digests.append(digest)
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(parts)}"


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", title="retry backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("backend",)

    type: Literal["retry"]
    backend: str
    attempts: int = pydantic.Field(3, ge=1, le=20)
    base_delay: float = pydantic.Field(0.1, ge=0)
    max_delay: float = pydantic.Field(2.0, ge=0)
    deadline: float = pydantic.Field(10.0, ge=0)


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    """``io_threads`` is for backends that block; a composite does not."""
    return Retry(
        lookup(settings.backend),
        settings.attempts,
        settings.base_delay,
        settings.max_delay,
        settings.deadline,
        name=name,
    )
