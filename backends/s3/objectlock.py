"""Object Lock on an S3-compatible store: the store's own lock, passed through.

The store keeps and enforces each version's retention and legal hold (S3's ``?retention`` and
``?legal-hold`` sub-resources, the ``x-amz-object-lock-*`` headers on writes and reads), so a locked
version cannot be removed through the gateway or around it. The bucket's configuration (default
retention) stays a gateway setting: the gateway turns it into explicit lock headers on each write, so
the store's bucket needs only ``ObjectLockEnabled``. The governance bypass is the gateway's decision;
the store sees ``x-amz-bypass-governance-retention`` only on the calls made for a request it allowed.

S3 answers a refusal by the lock with 403 AccessDenied; on the calls that only a lock can refuse, that
is ObjectLocked (the rules were broken, not our credentials).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from lxml import etree
from minio.helpers import md5sum_hash

from backends import errors as be
from backends.base import LOCK_MODES, DeleteResult, ObjectInfo, ObjectMeta
from backends.s3.requests import StoreRequests
from backends.s3.wire import (
    delete_result,
    is_locking,
    location_body,
    lock_date,
    parse_list_uploads,
    parse_list_versions,
    text_of,
)
from backends.wire.xml import S3_NS, parse_safe

BYPASS = {"x-amz-bypass-governance-retention": "true"}
LOCK_ON_CREATE = {"x-amz-bucket-object-lock-enabled": "true"}
#: Between the store's upload id and the lock the upload asked for (see lock_upload_id).
UPLOAD_LOCK = ".s3bridge-lock-"


def _document(root: str, fields: list[tuple[str, str]]) -> bytes:
    """A small S3 request document: ``<root><name>text</name>...</root>`` in the S3 namespace."""
    element = etree.Element(f"{{{S3_NS}}}{root}", nsmap={None: S3_NS})  # type: ignore[dict-item]
    for name, text in fields:
        etree.SubElement(element, f"{{{S3_NS}}}{name}").text = text
    return etree.tostring(element, xml_declaration=False, encoding="utf-8")


def configuration_body() -> bytes:
    """ObjectLockConfiguration turning the lock on, with no default retention (the gateway's)."""
    return _document("ObjectLockConfiguration", [("ObjectLockEnabled", "Enabled")])


def retention_body(mode: str | None, retain_until: str | None) -> bytes:
    """A Retention document; an empty one removes the retention."""
    fields = [("Mode", mode), ("RetainUntilDate", retain_until)] if mode and retain_until else []
    return _document("Retention", fields)  # type: ignore[arg-type]


def legal_hold_body(on: bool) -> bytes:
    return _document("LegalHold", [("Status", "ON" if on else "OFF")])


def _xml_headers(body: bytes, extra: dict[str, str] | None = None) -> dict[str, str]:
    """S3 requires Content-MD5 on PutObjectLockConfiguration, PutObjectRetention and PutObjectLegalHold."""
    return {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or "", **(extra or {})}


def locked(exc: be.AccessDenied, backend: str) -> be.BackendError:
    """An AccessDenied from the store on a call only its lock refuses: ObjectLocked."""
    if isinstance(exc, be.ObjectLocked):
        return exc
    return be.ObjectLocked(detail=exc.detail, backend=backend)


def lock_upload_id(upload_id: str, meta: ObjectMeta) -> str:
    """The store's upload id, with the lock a CreateMultipartUpload asked for appended when it asked for
    one: CompleteMultipartUpload then knows what to check on the object it made, without any state."""
    if not is_locking(meta):
        return upload_id
    fields = [meta.lock_mode, meta.lock_retain_until, bool(meta.legal_hold)]
    token = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()
    return upload_id + UPLOAD_LOCK + token.rstrip("=")


def split_upload_id(upload_id: str) -> tuple[str, ObjectMeta | None]:
    """(the store's upload id, the lock the upload asked for or None); an unreadable lock part is an
    upload that does not exist."""
    store_id, sep, token = upload_id.rpartition(UPLOAD_LOCK)
    if not sep:
        return upload_id, None
    try:
        mode, until, hold = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if mode not in (None, *LOCK_MODES) or not isinstance(hold, bool):
            raise ValueError(mode)
        until = lock_date(until) if isinstance(until, str) else None
    except (ValueError, TypeError, binascii.Error):
        raise be.NoSuchUpload(detail=f"unreadable lock in upload id {upload_id!r}") from None
    if not store_id:
        raise be.NoSuchUpload(detail="empty upload id")
    return store_id, ObjectMeta(lock_mode=mode if until else None, lock_retain_until=until, legal_hold=hold)


def under_lock(info: ObjectInfo) -> bool:
    """Whether a version's lock is in force now: a legal hold, or a retention whose date is ahead."""
    if info.meta.legal_hold:
        return True
    if not (info.meta.lock_mode and info.meta.lock_retain_until):
        return False
    until = dt.datetime.fromisoformat(info.meta.lock_retain_until.replace("Z", "+00:00"))
    return until > dt.datetime.now(dt.timezone.utc)


class S3ObjectLock(StoreRequests):
    """A mixin for S3Backend: the Object Lock calls over its ``_request``."""

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        raise NotImplementedError  # pragma: no cover - provided by S3Backend

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        raise NotImplementedError  # pragma: no cover - provided by S3Backend

    async def lock_refusal(
        self, exc: be.AccessDenied, bucket: str, key: str, version_id: str
    ) -> be.BackendError:
        """An AccessDenied from the store on a delete of a version, which our credentials may also be
        refused: ObjectLocked when the version is under a lock in force (not every store says which)."""
        try:
            info = await self.head_object(bucket, key, version_id)
        except be.BackendError:
            return exc
        return locked(exc, self.name) if under_lock(info) else exc

    async def ensure_lock(self, bucket: str, key: str, info: ObjectInfo, meta: ObjectMeta) -> ObjectInfo:
        """The lock a copy or a multipart upload asked for, set on the version it made where the store
        ignored the lock headers (Ceph RGW 16 on copies and uploads, moto on uploads): a lock asked for
        is never left off silently."""
        got = info.meta
        if meta.lock_mode and (got.lock_mode, got.lock_retain_until) != (
            meta.lock_mode,
            meta.lock_retain_until,
        ):
            info = await self.put_object_retention(
                bucket, key, info.version_id, meta.lock_mode, meta.lock_retain_until
            )
        if meta.legal_hold and not info.meta.legal_hold:
            info = await self.put_object_legal_hold(bucket, key, info.version_id, True)
        return info

    async def _lock_request(self, method: str, bucket: str, key: str | None = None, **kw: Any) -> Any:
        try:
            return await self._request(method, bucket, key, **kw)
        except be.AccessDenied as exc:
            raise locked(exc, self.name) from exc

    async def enable_object_lock(self, bucket: str) -> None:
        """Versioning Enabled, then the store's lock on (S3 allows it on an existing versioned bucket).

        A store that turns the lock on only when a bucket is created (Ceph RGW, AWS before 2023) refuses
        with InvalidBucketState: an empty bucket is then made again, locked from its creation, in its
        region. A bucket holding anything (a version, a delete marker, an upload) is never removed: the
        refusal stands."""
        await self.put_bucket_versioning(bucket, "Enabled")
        body = configuration_body()
        try:
            await self._request(
                "PUT", bucket, body=body, headers=_xml_headers(body), query_params={"object-lock": ""}
            )
        except be.InvalidBucketState:
            if not await self._is_empty(bucket):
                raise
            await self._recreate_locked(bucket)

    async def _is_empty(self, bucket: str) -> bool:
        found = await self._request("GET", bucket, query_params={"versions": "", "max-keys": "1"})
        versions = parse_list_versions(found.data)
        found = await self._request("GET", bucket, query_params={"uploads": "", "max-uploads": "1"})
        uploads = parse_list_uploads(found.data)
        return not (
            versions.versions or versions.common_prefixes or uploads.uploads or uploads.common_prefixes
        )

    async def _recreate_locked(self, bucket: str) -> None:
        resp = await self._request("GET", bucket, query_params={"location": ""})
        region = text_of(resp.data, "LocationConstraint") if resp.data.strip() else None
        if region is None and resp.data.strip():
            region = (parse_safe(resp.data).text or "").strip() or None  # the root is the constraint
        await self._request("DELETE", bucket)
        await self._request("PUT", bucket, body=location_body(region), headers=dict(LOCK_ON_CREATE))

    async def put_object_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        mode: str | None,
        retain_until: str | None,
        bypass_governance: bool = False,
    ) -> ObjectInfo:
        body = retention_body(mode, retain_until)
        headers = _xml_headers(body, BYPASS if bypass_governance else None)
        query = _subresource("retention", version_id)
        await self._lock_request("PUT", bucket, key, body=body, headers=headers, query_params=query)
        return await self.head_object(bucket, key, version_id)

    async def put_object_legal_hold(
        self, bucket: str, key: str, version_id: str | None, on: bool
    ) -> ObjectInfo:
        body = legal_hold_body(on)
        query = _subresource("legal-hold", version_id)
        await self._lock_request(
            "PUT", bucket, key, body=body, headers=_xml_headers(body), query_params=query
        )
        return await self.head_object(bucket, key, version_id)

    async def delete_object_bypassing_governance(
        self, bucket: str, key: str, version_id: str
    ) -> DeleteResult:
        query = {"versionId": version_id}
        resp = await self._lock_request("DELETE", bucket, key, headers=dict(BYPASS), query_params=query)
        return delete_result(resp.headers)


def _subresource(name: str, version_id: str | None) -> dict[str, str]:
    query = {name: ""}
    if version_id is not None:
        query["versionId"] = version_id
    return query
