"""What a handler gets: the parsed request, its identity and body, the backend, the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from backends.base import Backend
from gateway.access import Access, Facts
from gateway.auth import AuthResult
from gateway.body import RequestBody
from gateway.bucketsettings import BucketSettings
from gateway.config import Config
from gateway.errors import S3Error
from gateway.identity import Identity
from gateway.policy import Policy
from gateway.xmlio import MAX_XML_BYTES, Doc, parse


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
    #: Identities, owners and the authorisation decision (gateway.access); set by the app.
    access_control: Access | None = field(default=None, repr=False)
    #: What the request tells about itself for policy conditions (source address, TLS, ...).
    facts: Facts = field(default_factory=Facts)

    @property
    def access(self) -> Access:
        if self.access_control is None:
            raise S3Error("NotImplemented", "Access control is not set up for this request.")
        return self.access_control

    async def bucket_owner(self) -> Identity:
        """The owner of the request's bucket (gateway.identity)."""
        return await self.access.settings.owner(self.need_bucket)

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


def bounded_int_argument(raw: str, name: str, low: int, high: int, message: str) -> int:
    """``raw`` as an integer in [low, high], or S3's InvalidArgument naming the argument."""
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise S3Error("InvalidArgument", message, ArgumentName=name, ArgumentValue=raw)
    return int(raw)


def xml_response(doc: Doc, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(doc.to_bytes(), status_code=status, headers=headers, media_type="application/xml")


def empty(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(b"", status_code=status, headers=headers)
    return response
