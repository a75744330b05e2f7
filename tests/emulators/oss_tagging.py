"""OSS object tagging, strictly as the OSS docs describe it (PutObjectTagging, GetObjectTagging,
DeleteObjectTagging, and the ``x-oss-tagging`` header of PutObject, InitiateMultipartUpload and
CopyObject with ``x-oss-tagging-directive``).

The rules OSS documents: at most 10 tags per object; keys unique and case-sensitive; a key of 1-128
bytes and a value of 0-256 bytes; keys and values hold letters, digits, spaces and ``+ - = . _ : /``
only; the header is URL-encoded ``k1=v1&k2=v2``. A broken rule is 400 InvalidTag; a document that is not a
tag set is 400 MalformedXML. GET and HEAD answer ``x-oss-tagging-count`` when the object has tags.
"""

from __future__ import annotations

from tests.emulators.tagging import TagDialect, TagRules

_SYMBOLS = frozenset(" +-=._:/")
RULES = TagRules(
    "OSS",
    max_key=128,
    max_value=256,
    size=lambda s: len(s.encode()),
    char_ok=lambda c: c.isalnum() or c in _SYMBOLS,
)
#: OSS's tagging calls name no version (the current object only).
DIALECT = TagDialect("x-oss-", RULES.check)
