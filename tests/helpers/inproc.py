"""The gateway in-process: the real ASGI app, assembled as ``s3bridge serve`` assembles it, driven through
``httpx.ASGITransport`` with requests signed by botocore's own signers.

No process, no socket, no port: handlers, addressing, authentication, conditions, the XML answers, the
metrics and the access log all run as they do under uvicorn, so a test of "this request gets that answer"
costs milliseconds. What this layer cannot show (a real client library's behaviour, TLS, worker
processes, signals, a connection cut mid-body, uvicorn's own HTTP parsing) stays with the end-to-end
tests that start ``s3bridge serve``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from botocore.awsrequest import AWSRequest
from botocore.utils import percent_encode_sequence

from gateway.cli import ENV_SERVE_ARGS, create_app
from tests.helpers.clients import ACCESS_KEY, SECRET_KEY
from tests.helpers.signing import add_auth

#: The host the in-process gateway believes it is reached at (nothing listens there).
HOST = "127.0.0.1:9000"
ACCESS_LOGGER = "s3bridge.access"
Pair = tuple[str, str]


def config_document(data_dir: Path, **sections: Any) -> dict[str, Any]:
    """A gateway.yaml: one fs backend at ``data_dir`` and the test key pair, with ``sections`` on top
    (``server={...}``, ``credentials=[...]``, ``backends={...}``, ``routes=[...]``...)."""
    doc: dict[str, Any] = {
        "credentials": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
        "backends": {"local": {"type": "fs", "root": str(data_dir), "fsync": False}},
    }
    doc.update(sections)
    return doc


def build_app(config_path: Path) -> Any:
    """The ASGI app exactly as each ``s3bridge serve`` worker builds it (``gateway.cli.create_app``)."""
    saved = os.environ.get(ENV_SERVE_ARGS)
    os.environ[ENV_SERVE_ARGS] = json.dumps({"config": str(config_path), "data_dir": None, "overrides": {}})
    try:
        return create_app()
    finally:
        if saved is None:
            os.environ.pop(ENV_SERVE_ARGS, None)
        else:
            os.environ[ENV_SERVE_ARGS] = saved


class AccessLines(logging.Handler):
    """Collects the access log's JSON lines as dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


class InProcessGateway:
    """One gateway app over its own configuration; ``request`` signs and sends, ``send`` sends as given."""

    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.access = AccessLines()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=client), base_url=f"http://{HOST}"
        )

    @classmethod
    def over(cls, base: Path, **sections: Any) -> InProcessGateway:
        """A gateway configured by ``config_document(base / "data", **sections)``, written under ``base``."""
        path = base / "gateway.yaml"
        path.write_text(yaml.safe_dump(config_document(base / "data", **sections)))
        return cls(build_app(path))

    async def __aenter__(self) -> InProcessGateway:
        logging.getLogger(ACCESS_LOGGER).addHandler(self.access)
        return self

    async def __aexit__(self, *exc: object) -> None:
        logging.getLogger(ACCESS_LOGGER).removeHandler(self.access)
        await self.client.aclose()
        await self._shutdown()

    async def _shutdown(self) -> None:
        """The lifespan shutdown uvicorn sends on exit: the app closes its backends."""
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "lifespan.shutdown"}

        async def record(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, record)
        assert sent == [{"type": "lifespan.shutdown.complete"}], sent

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        signer: str | None = "v4",
        pair: Pair = (ACCESS_KEY, SECRET_KEY),
        host: str = HOST,
        scheme: str = "http",
        expires: int = 3600,
        send_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Sign ``method path?params`` for ``scheme://host`` (the URL the client believes in) and send it.

        ``path`` is percent-encoded already, as a client sends it, and may carry a query of its own;
        ``params`` are encoded as botocore encodes them. ``send_headers`` are set after signing (a proxy's
        X-Forwarded-*, or a Host other than the one signed).
        """
        items = list(params.items()) if isinstance(params, Mapping) else list(params or [])
        query = f"?{percent_encode_sequence(items)}" if items else ""
        request = AWSRequest(
            method=method, url=f"{scheme}://{host}{path}{query}", headers=dict(headers or {}), data=body
        )
        signed = add_auth(request, signer, pair, expires=expires)
        return await self.send(signed, extra=send_headers)

    async def send(self, signed: AWSRequest, *, extra: Mapping[str, str] | None = None) -> httpx.Response:
        """Send a request as signed, its target byte for byte (no client normalises it), with the Host its
        URL names (``extra`` may replace it), to the app."""
        parts = urlsplit(signed.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in signed.headers.items()}
        headers["Host"] = parts.netloc
        headers.update(extra or {})
        body = signed.body if isinstance(signed.body, bytes) else (signed.body or b"")
        request = self.client.build_request(signed.method, f"http://{HOST}/", headers=headers, content=body)
        request.url = request.url.copy_with(raw_path=target.encode())
        return await self.client.send(request)
