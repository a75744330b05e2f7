"""OBS object tagging, as Huawei's API reference describes it: PutObjectTagging, GetObjectTagging and
DeleteObjectTagging (``?tagging``, with ``versionId``; a delete marker's version is 404), the
``x-obs-tagging`` header of PutObject, InitiateMultipartUpload and CopyObject (with
``x-obs-tagging-directive``), and ``x-obs-tagging-count`` on GET and HEAD.

The rules OBS documents: at most 10 tags per object; keys unique and case-sensitive, 1 to 128 characters;
values 0 to 255 characters; neither holds any of ``, / | < > = * \\``. A broken rule is 400 InvalidTag.
"""

from __future__ import annotations

from tests.emulators.tagging import TagRules

FORBIDDEN = frozenset(",/|<>=*\\")
RULES = TagRules("OBS", max_key=128, max_value=255, size=len, char_ok=lambda c: c not in FORBIDDEN)
