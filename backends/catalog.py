"""Every backend type a configuration may name: its settings model, and the module that builds it.

``BackendSettings`` is one pydantic union discriminated on ``type``, so a configuration's ``backends:``
entries validate in one pass and each error carries its path. The settings models import no SDK (a
provider's lives in its package's ``settings`` module), so validating a configuration never loads
oss2, esdk-obs-python or minio; a type's module, which does, is imported only when ``build_module``
asks for it.
"""

from __future__ import annotations

import importlib
import types
import typing
from typing import Annotated

from pydantic import BaseModel, Field

from backends.composite import breaker, encrypt, fallback, mirror, retry
from backends.fs import settings as fs
from backends.obs import settings as obs
from backends.oss import settings as oss
from backends.s3 import settings as s3

BackendSettings = Annotated[
    fs.Settings
    | s3.Settings
    | oss.Settings
    | obs.Settings
    | retry.Settings
    | fallback.Settings
    | mirror.Settings
    | breaker.Settings
    | encrypt.Settings,
    Field(discriminator="type"),
]

#: backend type → the module holding its ``build(settings, *, name, lookup)``.
MODULES = {
    "fs": "backends.fs.backend",
    "s3": "backends.s3.backend",
    "oss": "backends.oss.backend",
    "obs": "backends.obs.backend",
    "retry": "backends.composite.retry",
    "fallback": "backends.composite.fallback",
    "mirror": "backends.composite.mirror",
    "breaker": "backends.composite.breaker",
    "encrypt": "backends.composite.encrypt",
}

#: backend type → its settings model, in the union's order.
SETTINGS: dict[str, type[BaseModel]] = {
    typing.get_args(model.model_fields["type"].annotation)[0]: model
    for model in typing.get_args(typing.get_args(BackendSettings)[0])
}
TYPES = tuple(SETTINGS)


def build_module(kind: str) -> types.ModuleType:
    """The module that builds backends of this type (importing it imports the provider's SDK)."""
    return importlib.import_module(MODULES[kind])


def references(kind: str) -> tuple[str, ...]:
    """The settings of a type that name other backends (a composite's members)."""
    refs: tuple[str, ...] = getattr(SETTINGS[kind], "references", ())
    return refs
