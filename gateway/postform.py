"""The multipart/form-data body of a POST object upload, read as it arrives.

``FormParser`` is sans-I/O (python-multipart's streaming parser underneath): bytes in, part events out.
``FormReader`` drives it over the request body: the fields before the file part are collected (their
total size bounded), then the file part's bytes are handed on as they come, never held whole; what
follows the file part is read and dropped, as S3 ignores fields after the file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.errors import S3Error

#: The fields before the file (policy, signature, metadata...) together; past it S3's own refusal.
MAX_FIELDS_BYTES = 256 * 1024
#: The name of the part holding the object's bytes.
FILE_FIELD = "file"


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def malformed(detail: str | None = None) -> S3Error:
    return S3Error("MalformedPOSTRequest", detail)


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; S3's PreconditionFailed for any other."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind.lower() != b"multipart/form-data" or not boundary:
        raise S3Error(
            "PreconditionFailed", Condition="Bucket POST must be of the enclosure-type multipart/form-data"
        )
    return boundary


class FormParser:
    """Feed the body's bytes in any split; get the parts' events (see the module docstring)."""

    def __init__(self, content_type: str | None):
        self._events: list[Event] = []
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self.ended = False
        self._parser = MultipartParser(
            boundary_of(content_type),
            {
                "on_part_begin": self._begin,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": lambda: self._events.append(PartEnd()),
                "on_end": self._end,
            },  # type: ignore[arg-type]
        )

    def _begin(self) -> None:
        self._headers = {}

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = self._header_value = b""

    def _headers_done(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition.lower() != b"form-data" or b"name" not in params:
            raise malformed()
        filename = params.get(b"filename")
        content_type = self._headers.get(b"content-type")
        self._events.append(
            PartStart(
                name=params[b"name"].decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=content_type.decode("latin-1") if content_type is not None else None,
            )
        )

    def _data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(PartData(bytes(data[start:end])))

    def _end(self) -> None:
        self.ended = True

    def feed(self, data: bytes) -> list[Event]:
        try:
            self._parser.write(data)
        except MultipartParseError:
            raise malformed() from None
        events, self._events = self._events, []
        return events

    def finish(self) -> None:
        """The body ended: it must have ended the form too."""
        if not self.ended:
            raise malformed()


class FormReader:
    """The form of one request, read once in order: ``fields()``, then ``file_data()``, then ``drain()``."""

    def __init__(self, body: AsyncIterable[bytes], parser: FormParser):
        self._chunks = aiter(body)
        self._parser = parser
        self._pending: deque[Event] = deque()
        self._done = False
        #: The file part, once ``fields()`` found it.
        self.file: PartStart | None = None

    async def _next(self) -> Event | None:
        while not self._pending:
            if self._done:
                return None
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._done = True
                self._parser.finish()
                continue
            self._pending.extend(self._parser.feed(chunk))
        return self._pending.popleft()

    async def fields(self) -> dict[str, str]:
        """The fields before the file part, names lower-cased (S3 treats them case-insensitively; the
        first of a repeated name counts); stops at the file part, which ``file`` then names."""
        fields: dict[str, str] = {}
        total = 0
        name: str | None = None
        value = bytearray()
        while (event := await self._next()) is not None:
            if isinstance(event, PartStart):
                if event.name.lower() == FILE_FIELD:
                    self.file = event
                    return fields
                name, value = event.name.lower(), bytearray()
            elif isinstance(event, PartData):
                total += len(event.data)
                if total > MAX_FIELDS_BYTES:
                    raise S3Error("MaxPostPreDataLengthExceededError")
                value += event.data
            elif name is not None:
                fields.setdefault(name, value.decode("utf-8", "replace"))
                name = None
        return fields

    async def file_data(self) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive."""
        while (event := await self._next()) is not None:
            if isinstance(event, PartData):
                yield event.data
            elif isinstance(event, PartEnd):
                return
            else:
                raise malformed()
        raise malformed()

    async def drain(self) -> None:
        """Read the rest of the form (fields after the file count for nothing, as on S3)."""
        while await self._next() is not None:
            pass
