"""Huawei OBS through esdk-obs-python (``type: obs``).

Every contract operation maps onto one native SDK call; multipart state lives in OBS itself, so any
gateway process (or a restarted one) continues an upload by its id. Bodies cross the thread boundary
through ``backends.bridge`` a chunk at a time in both directions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from obs import ObsClient, const, convertor

from backends.base import Backend
from backends.bridge import DEFAULT_THREADS, BlockingPool, sized
from backends.obs.settings import Settings
from backends.obs.tagging import ObsTagging
from backends.obs.versions import ObsVersioning
from backends.recorded import recorded


class _RawHeadersClient(ObsClient):  # type: ignore[misc]
    """ObsClient that keeps response header names as sent, sends tagging headers unencoded, and dates
    SigV4 requests with ``x-amz-date``.

    The SDK strips ``x-amz-meta-``/``x-obs-meta-`` (and ``x-amz-``/``x-obs-``) from the header list it
    returns, so user metadata named like a system header could not be told apart; ``obs_wire`` reads
    the raw names instead.
    """

    def _rename_response_headers(self, headers: dict[str, str]) -> list[tuple[str, str]]:
        return list(headers.items())

    def _rename_request_headers_handle(self, k: str, v: Any, new_headers: dict[str, Any]) -> dict[str, Any]:
        """Send a tagging header as given: it is URL-encoded already (``obs_wire.tag_headers``), and the
        SDK's own encoding, which leaves ``&``/``=`` alone but escapes ``%``, would encode it twice."""
        if k.lower() in ("x-obs-tagging", "x-amz-tagging"):
            new_headers[k] = v
            return new_headers
        return super()._rename_request_headers_handle(k, v, new_headers)

    def _add_auth_headers(
        self,
        headers: dict[str, Any],
        method: str,
        bucketName: str,
        objectKey: str,
        pathArgs: dict[str, Any] | None,
        skipAuthentication: bool = False,
    ) -> dict[str, Any]:
        """In v4 mode, date the request with an ISO 8601 basic ``x-amz-date`` before the SDK signs it.

        Left alone, the SDK's v4 signer sends (and signs) only an RFC 1123 ``Date``. AWS takes that, but
        Ceph RGW reads a SigV4 request's time only in ISO 8601 basic form (from ``x-amz-date``, else
        ``Date``) and refuses every such request with 403. Given an ``x-amz-date`` already, the SDK
        signs it, takes the signing date from it, and adds no ``Date``: what every SigV4 client sends.
        This hook is the SDK's own (it is called once per request, after the request headers are
        renamed and encoded), overridden on this client class only.
        """
        if self.signature == "v4" and self.ha.date_header() not in headers:
            now = dt.datetime.now(dt.timezone.utc)
            headers[self.ha.date_header()] = now.strftime(const.LONG_DATE_FORMAT)
        return super()._add_auth_headers(headers, method, bucketName, objectKey, pathArgs, skipAuthentication)


def _verify_setting(settings: Settings) -> str | bool:
    if not settings.ssl_verify:
        return False
    if settings.ca_bundle:
        return settings.ca_bundle
    import certifi  # the SDK loads no default CA store: without a bundle nothing would verify

    return str(certifi.where())


def make_client(settings: Settings) -> ObsClient:
    """An ObsClient configured as the settings say, nothing negotiated or guessed."""
    client = _RawHeadersClient(
        access_key_id=settings.access_key,
        secret_access_key=settings.secret_key,
        security_token=settings.security_token,
        server=settings.server,
        signature=settings.signature,
        region=settings.region or "region",
        path_style=settings.path_style,
        ssl_verify=_verify_setting(settings),
        timeout=settings.timeout,
        max_retry_count=settings.max_retry_count,
        long_conn_mode=True,
        is_signature_negotiation=False,
    )
    if client.signature != settings.signature:
        # The SDK silently downgrades "obs" to "v2" whenever it addresses path-style (always for an IP
        # endpoint); the operator asked for a scheme, so sign with that one.
        client.signature = settings.signature
        client.ha = convertor.Adapter(settings.signature)
        client.convertor = convertor.Convertor(settings.signature, client.ha)
    context = getattr(client, "context", None)
    if context is not None and settings.ssl_verify:
        context.check_hostname = True  # the SDK turns hostname checking off even when verifying
    return client


class ObsBackend(ObsTagging, ObsVersioning, Backend):
    def __init__(self, settings: Settings, *, name: str):
        self.name = name
        self.settings = settings
        self.signature = settings.signature
        self.part_size = settings.part_size
        self.region = settings.region
        self.client: Any = None
        self.pool = BlockingPool(settings.max_workers, name=f"obs-{name}")
        self.meta_bucket = settings.meta_bucket

    def __repr__(self) -> str:
        return (
            f"ObsBackend(name={self.name!r}, server={self.settings.server!r}, signature={self.signature!r})"
        )

    async def start(self) -> None:
        if self.client is None:
            self.client = make_client(self.settings)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await self.pool.run(client.close)
        self.pool.shutdown()

    async def check(self) -> None:
        if self.settings.bucket:
            await self.head_bucket(self.settings.bucket)
        else:
            await self.list_buckets()


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    return recorded(ObsBackend(sized(settings, io_threads), name=name), settings.meta_bucket)
