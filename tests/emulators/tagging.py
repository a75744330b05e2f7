"""Object tagging for the emulators, as the S3 family (S3, OSS, OBS) shapes it; dialect-neutral.

The header on PutObject, InitiateMultipartUpload and CopyObject is URL-encoded ``k1=v1&k2=v2``; the
document of Put/GetObjectTagging is ``Tagging/TagSet/Tag/{Key,Value}``; GET and HEAD answer
``<prefix>tagging-count`` when the object has tags; CopyObject takes ``<prefix>tagging-directive``. What
differs per store is its header prefix, its XML namespace, its rules for a tag set (``check``) and whether
the calls take a ``versionId`` (``versions``): a ``TagDialect``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from tests.emulators.core import EmulatorError, Request, Response, element, parse_xml, to_xml
from tests.emulators.store import ObjectRecord, Store
from tests.emulators.versioning import Dialect as VersionDialect

TagPairs = list[tuple[str, str]]


@dataclass(frozen=True)
class TagRules:
    """A store's rules for a tag set: how many tags, how long a key (at least 1) and a value may be in
    ``size`` units, which characters they may hold. A broken rule is 400 InvalidTag."""

    store: str
    max_key: int
    max_value: int
    size: Callable[[str], int]
    char_ok: Callable[[str], bool]
    max_tags: int = 10

    def check(self, pairs: TagPairs) -> dict[str, str]:
        if len(pairs) > self.max_tags:
            raise _invalid(f"An object can have at most {self.max_tags} tags.")
        tags: dict[str, str] = {}
        for key, value in pairs:
            if not 1 <= self.size(key) <= self.max_key or self.size(value) > self.max_value:
                raise _invalid("The tag key or value exceeds its length limit.")
            if not all(self.char_ok(c) for c in key + value):
                raise _invalid(f"The tag key or value holds a character {self.store} does not allow.")
            if key in tags:
                raise _invalid("Tag keys must be unique.")
            tags[key] = value
        return tags


def _invalid(message: str) -> EmulatorError:
    return EmulatorError(400, "InvalidTag", message)


@dataclass(frozen=True)
class TagDialect:
    prefix: str
    #: the store's rules: the tag set as a dict, or EmulatorError
    check: Callable[[TagPairs], dict[str, str]]
    namespace: str | None = None
    #: the store's version ids when its tagging calls take ``versionId``; None: the current object only
    versions: VersionDialect | None = None

    def from_header(self, req: Request) -> dict[str, str] | None:
        """The tags of ``<prefix>tagging``; None when the request carries none."""
        raw = req.headers.get(f"{self.prefix}tagging")
        if raw is None:
            return None
        pairs = []
        for item in raw.split("&"):
            if item:
                name, _, value = item.partition("=")
                pairs.append((unquote(name), unquote(value)))
        return self.check(pairs)

    def copy_directive(self, req: Request) -> str:
        """``copy`` or ``replace``, from ``<prefix>tagging-directive`` (default copy)."""
        directive = (req.headers.get(f"{self.prefix}tagging-directive") or "Copy").strip().lower()
        if directive not in ("copy", "replace"):
            raise EmulatorError(
                400, "InvalidArgument", f"{self.prefix}tagging-directive must be Copy or Replace."
            )
        return directive

    def count_header(self, tags: dict[str, str]) -> list[tuple[str, str]]:
        return [(f"{self.prefix}tagging-count", str(len(tags)))] if tags else []


class TaggingOps:
    """Put/Get/DeleteObjectTagging over the store, in one store's dialect."""

    def __init__(self, store: Store, dialect: TagDialect):
        self.store = store
        self.dialect = dialect

    def _record(self, req: Request, bucket: str, key: str) -> ObjectRecord:
        versions = self.dialect.versions
        if versions is None:
            return self.store.get_object(bucket, key)
        try:
            return self.store.get_version(bucket, key, versions.param(req), versions.prefix)
        except EmulatorError as err:
            if err.status != 405:
                raise
            # a delete marker named by its id has no tags: 404, as OBS documents it
            raise EmulatorError(404, "NoSuchKey", "The specified key does not exist.", Key=key) from None

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
        tags = self.dialect.check(pairs)
        self.store.retag(self._record(req, bucket, key), tags)
        return Response(200, self._version(bucket, req, key))

    def get(self, req: Request, bucket: str, key: str) -> Response:
        rec = self._record(req, bucket, key)
        tags = [element("Tag", None, element("Key", k), element("Value", v)) for k, v in rec.tags.items()]
        body = to_xml(element("Tagging", None, element("TagSet", None, *tags)), self.dialect.namespace)
        return Response(200, [("Content-Type", "application/xml")], body)

    def delete(self, req: Request, bucket: str, key: str) -> Response:
        self.store.retag(self._record(req, bucket, key), {})
        return Response(204, self._version(bucket, req, key))

    def _version(self, bucket: str, req: Request, key: str) -> list[tuple[str, str]]:
        versions = self.dialect.versions
        return (
            [] if versions is None else versions.headers(self.store, bucket, self._record(req, bucket, key))
        )
