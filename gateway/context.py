"""What a handler gets: the parsed request, its identity and body, the backend, the configuration."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lxml import etree
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from backends.base import Backend
from gateway.auth import AuthResult
from gateway.body import RequestBody
from gateway.bucketsettings import BucketSettings
from gateway.config import Config
from gateway.errors import S3Error
from gateway.policy import Policy
from gateway.xmlio import MAX_XML_BYTES, Doc, parse

#: The single owner every bucket and object reports (the gateway has no per-object ACLs).
OWNER_ID = hashlib.sha256(b"s3bridge-owner").hexdigest()
OWNER_NAME = "s3bridge"


@dataclass
class Ctx:
    request: Request
    request_id: str
    operation: str
    bucket: str | None
    key: str | None
    query: dict[str, str]
    headers: Headers
    backend: Backend
    config: Config
    auth: AuthResult
    policy: Policy
    #: The bucket settings documents (ACLs, policy, CORS, ...), cached; see gateway.bucketsettings.
    settings: BucketSettings
    _body: RequestBody | None = field(default=None, repr=False)

    @property
    def body(self) -> RequestBody:
        if self._body is None:
            self._body = RequestBody(self.request, self.auth.payload)
        return self._body

    async def aclose_body(self) -> None:
        """Release what the body may still hold (a read-ahead task) once the handler is done."""
        if self._body is not None:
            await self._body.aclose()

    @property
    def body_finished(self) -> bool:
        """The whole wire body was read, so the connection may carry another request."""
        return self._body is not None and self._body.finished

    async def read_xml(self) -> etree._Element:
        return parse(await self.body.read_small(MAX_XML_BYTES))

    @property
    def need_bucket(self) -> str:
        # Addressing and the operation table guarantee both; a refusal, not an assert, should they ever not.
        if self.bucket is None:
            raise S3Error("InvalidBucketName")
        return self.bucket

    @property
    def need_key(self) -> str:
        if self.key is None:
            raise S3Error("InvalidRequest", "The request names no object key.")
        return self.key

    def int_param(self, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise S3Error(
                "InvalidArgument", f"Provided {name} not an integer or within integer range"
            ) from None
        if value < low:
            raise S3Error(
                "InvalidArgument", f"Argument {name} must be an integer between {low} and 2147483647"
            )
        return value if high is None else min(value, high)


def xml_response(doc: Doc, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(doc.to_bytes(), status_code=status, headers=headers, media_type="application/xml")


def empty(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(b"", status_code=status, headers=headers)
    return response
