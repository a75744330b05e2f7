"""OSS object tagging, strictly as the OSS docs describe it (PutObjectTagging, GetObjectTagging,
DeleteObjectTagging, and the ``x-oss-tagging`` header of PutObject, InitiateMultipartUpload and
CopyObject with ``x-oss-tagging-directive``).

The rules OSS documents: at most 10 tags per object; keys unique and case-sensitive; a key of 1-128
bytes and a value of 0-256 bytes; keys and values hold letters, digits, spaces and ``+ - = . _ : /``
only; the header is URL-encoded ``k1=v1&k2=v2``. A broken rule is 400 InvalidTag; a document that is not a
tag set is 400 MalformedXML. GET and HEAD answer ``x-oss-tagging-count`` when the object has tags.
"""

from __future__ import annotations

from urllib.parse import unquote

from tests.emulators.core import EmulatorError, Request, Response, element, parse_xml, to_xml
from tests.emulators.store import Store

MAX_TAGS = 10
MAX_KEY_BYTES = 128
MAX_VALUE_BYTES = 256
_SYMBOLS = frozenset(" +-=._:/")


def _invalid(message: str) -> EmulatorError:
    return EmulatorError(400, "InvalidTag", message)


def check(pairs: list[tuple[str, str]]) -> dict[str, str]:
    if len(pairs) > MAX_TAGS:
        raise _invalid(f"An object can have at most {MAX_TAGS} tags.")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not 1 <= len(key.encode()) <= MAX_KEY_BYTES or len(value.encode()) > MAX_VALUE_BYTES:
            raise _invalid("The tag key or value exceeds its length limit.")
        if not all(c.isalnum() or c in _SYMBOLS for c in key + value):
            raise _invalid("The tag key or value holds a character OSS does not allow.")
        if key in tags:
            raise _invalid("Tag keys must be unique.")
        tags[key] = value
    return tags


def from_header(req: Request) -> dict[str, str] | None:
    """The tags of ``x-oss-tagging``; None when the request carries none."""
    raw = req.headers.get("x-oss-tagging")
    if raw is None:
        return None
    pairs = []
    for item in raw.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return check(pairs)


def copy_directive(req: Request) -> str:
    directive = (req.headers.get("x-oss-tagging-directive") or "Copy").strip().lower()
    if directive not in ("copy", "replace"):
        raise EmulatorError(400, "InvalidArgument", "x-oss-tagging-directive must be Copy or Replace.")
    return directive


def count_header(tags: dict[str, str]) -> list[tuple[str, str]]:
    return [("x-oss-tagging-count", str(len(tags)))] if tags else []


class TaggingOps:
    def __init__(self, store: Store):
        self.store = store

    def put(self, req: Request, bucket: str, key: str) -> Response:
        root = parse_xml(req.body())
        sets = root.findall("TagSet") if root.tag == "Tagging" else []
        if len(sets) != 1:
            raise EmulatorError(400, "MalformedXML", "The XML you provided was not well-formed.")
        pairs = []
        for tag in sets[0].findall("Tag"):
            name, value = tag.findtext("Key"), tag.findtext("Value")
            if name is None:
                raise EmulatorError(400, "MalformedXML", "A Tag needs a Key.")
            pairs.append((name, value or ""))
        self.store.set_tags(bucket, key, check(pairs))
        return Response(200)

    def get(self, req: Request, bucket: str, key: str) -> Response:
        rec = self.store.get_object(bucket, key)
        tags = [element("Tag", None, element("Key", k), element("Value", v)) for k, v in rec.tags.items()]
        body = to_xml(element("Tagging", None, element("TagSet", None, *tags)))
        return Response(200, [("Content-Type", "application/xml")], body)

    def delete(self, req: Request, bucket: str, key: str) -> Response:
        self.store.set_tags(bucket, key, {})
        return Response(204)
