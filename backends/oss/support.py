"""Translation pieces for the OSS backend: errors, metadata headers, upload bodies, connection dialling.

Kept apart from ``backends.oss.backend`` so each file reads as one idea: this one knows oss2's shapes, that one
maps contract operations onto oss2 calls.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

import oss2
import requests
from oss2 import exceptions as oe

from backends import errors as be
from backends.base import CONTENT_HEADERS, ObjectMeta
from backends.bridge import BodyReadError, SyncReader, read_up_to
from backends.wire.etag import normal_etag
from backends.wire.markers import delete_marker_error
from backends.wire.status import ACCESS_CODES, BY_CODE, classify
from backends.wire.tagging import tagging_header

_CONTENT_HEADERS = CONTENT_HEADERS
META_PREFIX = "x-oss-meta-"
#: S3 storage classes and their OSS names (and back).
STORAGE_TO_OSS = {
    "STANDARD": "Standard",
    "STANDARD_IA": "IA",
    "ONEZONE_IA": "IA",
    "GLACIER_IR": "IA",
    "GLACIER": "Archive",
    "DEEP_ARCHIVE": "ColdArchive",
}
STORAGE_FROM_OSS = {
    "Standard": "STANDARD",
    "IA": "STANDARD_IA",
    "Archive": "GLACIER",
    "ColdArchive": "DEEP_ARCHIVE",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def translate(
    exc: BaseException, backend: str, *, missing: type[be.BackendError] = be.NoSuchKey
) -> BaseException:
    """The contract error for an oss2 failure; ``missing`` is what a body-less 404 means here."""
    if isinstance(exc, be.BackendError):
        return exc
    if isinstance(exc, oe.RequestError):  # connection refused, reset, timeout: status -2
        return be.BackendUnavailable(
            detail=f"OSS request failed: {type(exc.exception).__name__}", backend=backend
        )
    if isinstance(exc, oe.InconsistentError):
        return be.BackendUnavailable(detail=f"OSS CRC64 check failed: {exc.message}", backend=backend)
    if isinstance(exc, oe.OssError):
        return _from_oss_error(exc, backend, missing)
    if isinstance(exc, requests.RequestException | OSError):
        return be.BackendUnavailable(detail=f"OSS connection failed: {type(exc).__name__}", backend=backend)
    return be.InternalBackendError(detail=f"OSS client failed: {type(exc).__name__}: {exc}", backend=backend)


def _from_oss_error(exc: oe.OssError, backend: str, missing: type[be.BackendError]) -> be.BackendError:
    status, code = exc.status, exc.code or ""
    detail = f"OSS {status} {code}: {exc.message} (request id {exc.request_id or '-'})"
    if status < 0:
        return be.BackendUnavailable(detail=detail, backend=backend)
    marker = delete_marker_error(status, exc.headers or {}, "x-oss-", detail, backend)
    if marker is not None:
        return marker
    cls = classify(code, status, missing=missing)
    if code not in BY_CODE:  # OSS's reading of a status without a code we know
        if status >= 500:
            cls = be.BackendUnavailable
        elif status == 400:
            cls = be.InvalidArgument
    if cls is be.AccessDenied:
        words = "refused the configured credentials" if code in ACCESS_CODES else "was refused"
        return be.AccessDenied(detail=f"the OSS backend {backend!r} {words}: {detail}", backend=backend)
    if cls is be.InvalidRange:
        size = exc.details.get("ActualObjectSize")
        return be.InvalidRange(
            detail=detail, backend=backend, size=int(size) if size and size.isdigit() else None
        )
    return cls(detail=detail, backend=backend)


# -- metadata --------------------------------------------------------------------------------------------
def meta_to_headers(meta: ObjectMeta) -> dict[str, str]:
    """OSS request headers for ``meta``; Content-Type is always sent so oss2 does not guess it from the key."""
    headers = {"Content-Type": meta.content_type or DEFAULT_CONTENT_TYPE}
    for attr, name in _CONTENT_HEADERS.items():
        value = getattr(meta, attr)
        if value is not None and attr != "content_type":
            headers[name] = value
    for key, value in meta.user.items():
        headers[META_PREFIX + key.lower()] = value
    if meta.storage_class:
        oss_class = STORAGE_TO_OSS.get(meta.storage_class.upper())
        if oss_class is None:
            raise be.InvalidArgument(f"The storage class {meta.storage_class} is not available on OSS.")
        headers["x-oss-storage-class"] = oss_class
    if meta.tags:
        headers["x-oss-tagging"] = tagging_header(meta.tags.items())
    return headers


def headers_to_meta(headers: Mapping[str, str]) -> ObjectMeta:
    meta = ObjectMeta()
    lowered = {k.lower(): v for k, v in headers.items()}
    for attr, name in _CONTENT_HEADERS.items():
        setattr(meta, attr, lowered.get(name.lower()))
    meta.user = {k[len(META_PREFIX) :]: v for k, v in lowered.items() if k.startswith(META_PREFIX)}
    oss_class = lowered.get("x-oss-storage-class")
    meta.storage_class = STORAGE_FROM_OSS.get(oss_class, oss_class) if oss_class else None
    count = lowered.get("x-oss-tagging-count", "0").strip()
    meta.tag_count = int(count) if count.isdigit() else 0
    return meta


#: The contract's ETag: no quotes, lowercase hex (a multipart ``-N`` suffix is kept).
etag = normal_etag


def from_unix(ts: float | int | None) -> dt.datetime:
    if ts is None:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def from_iso(value: str | None) -> dt.datetime:
    if not value:
        return from_unix(None)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def from_http_date(value: str | None) -> dt.datetime:
    if value:
        try:
            return email.utils.parsedate_to_datetime(value).astimezone(dt.timezone.utc)
        except (TypeError, ValueError):
            pass
    return from_unix(None)


# -- upload bodies ---------------------------------------------------------------------------------------
class SizedBody:
    """A file-like of exactly ``size`` bytes over a SyncReader, for oss2 to send with Content-Length.

    ``read(n)`` always returns ``min(n, remaining)`` bytes (oss2's adapters count on it), and the last
    bytes are handed over only after the client's body ended normally, so a body that fails its
    verification at the end aborts the request before OSS can commit it. No seek/tell: oss2 would
    otherwise try to measure the stream.
    """

    def __init__(self, reader: SyncReader, size: int):
        self._reader = reader
        self.size = size
        self._sent = 0

    @property
    def len(self) -> int:
        return self.size

    def read(self, amt: int | None = -1) -> bytes:
        remaining = self.size - self._sent
        want = remaining if amt is None or amt < 0 else min(amt, remaining)
        data = read_up_to(self._reader, want)
        if len(data) < want:
            raise BodyReadError(
                f"the body ended after {self._sent + len(data)} of {self.size} declared bytes"
            )
        self._sent += len(data)
        if self._sent == self.size and not self._reader.drain_to_eof():
            raise BodyReadError(f"the body is longer than the {self.size} bytes declared")
        return data


def unsized_chunks(reader: SyncReader) -> Iterator[bytes]:
    """An iterable body (sent HTTP-chunked) for uploads whose length the client did not declare."""
    yield from reader


# -- dialling --------------------------------------------------------------------------------------------
class DialAdapter(requests.adapters.HTTPAdapter):
    """Connects to a fixed address whatever the URL's host, keeping the host name for Host, SNI and certs.

    OSS addresses buckets as ``<bucket>.<endpoint host>``; with a private link, split-horizon DNS or the
    loopback test emulator those names do not resolve, so this dials ``address`` (like curl --resolve).
    """

    def __init__(self, address: str, **kwargs: Any):
        super().__init__(**kwargs)
        self._address = address

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        parsed = urlparse(request.url)
        host = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        pool_kwargs: dict[str, Any] = {}
        if parsed.scheme == "https":
            pool_kwargs = {"server_hostname": host, "assert_hostname": host}
            if verify is False:
                pool_kwargs["cert_reqs"] = "CERT_NONE"
            elif isinstance(verify, str):
                pool_kwargs["ca_certs"] = verify
        return self.poolmanager.connection_from_host(
            self._address, port, parsed.scheme, pool_kwargs=pool_kwargs
        )

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        request.headers["Host"] = urlparse(request.url).netloc
        return super().send(request, *args, **kwargs)


def make_session(pool_size: int, connect_address: str | None) -> oss2.Session:
    adapter = None
    if connect_address:
        adapter = DialAdapter(connect_address, pool_connections=pool_size, pool_maxsize=pool_size)
    return oss2.Session(pool_size=pool_size, adapter=adapter)
