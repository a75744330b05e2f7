"""The configuration reference (``docs/configuration.md``) and the JSON Schema of the file
(``docs/gateway.schema.json``, for editors), both generated from the pydantic models.

The models are the single source of truth: the gateway's sections from ``gateway.config`` and each
backend type's ``Settings`` from ``backends.catalog``. A setting's description is its
``Field(description=)`` or else the ``#:`` comment above it in the source. Tests compare the committed
files with this output, so neither can drift from the code. Regenerate both with
``python -m gateway.configdoc --write``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import json
import os
import re
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticUndefined, core_schema

from backends import catalog
from gateway import config as cfg

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SCHEMA_PATH = DOC_PATH.with_name("gateway.schema.json")

#: (section key, model, what the section is) in the order of ``gateway.yaml``.
SECTIONS: list[tuple[str, type[BaseModel], str]] = [
    ("server", cfg.ServerSettings, "Where and how the gateway listens."),
    ("credentials[]", cfg.KeyPair, "Key pairs clients sign with."),
    ("routes[]", cfg.RouteSettings, "Client-visible bucket (name or glob) to backend; first match wins."),
    ("public_buckets[]", cfg.PublicBucket, "Buckets anyone may read without signing."),
    ("logging", cfg.LogSettings, "Log level, format and the access log."),
    ("status", cfg.StatusSettings, "The status page at `/_s3bridge/status`: who may see it from elsewhere."),
    ("telemetry", cfg.TelemetrySettings, "Optional OpenTelemetry tracing (`pip install 's3bridge[otel]'`)."),
]

#: Meanings of gateway settings whose model has no description or ``#:`` comment for them yet.
NOTES: dict[tuple[type[BaseModel], str], str] = {
    (cfg.ServerSettings, "host"): "Address to listen on (`0.0.0.0` in a container).",
    (cfg.ServerSettings, "port"): "TCP port to listen on.",
    (cfg.ServerSettings, "workers"): "Worker processes; the gateway keeps no state between requests.",
    (cfg.ServerSettings, "certfile"): "TLS certificate (PEM); `certfile` and `keyfile` go together.",
    (cfg.ServerSettings, "keyfile"): "TLS private key (PEM).",
    (cfg.KeyPair, "access_key"): "The key id clients sign with; it appears in the access log.",
    (cfg.KeyPair, "secret_key"): "The secret; better `${ENV_VAR}` or `secret_key_file` than the file itself.",
    (cfg.KeyPair, "secret_key_file"): "A file holding the secret (Docker/Kubernetes secrets).",
    (cfg.KeyPair, "buckets"): "Rights per bucket glob; the first matching glob decides.",
    (cfg.BucketRights, "bucket"): "Bucket name or glob (`*`, `?`, `[...]`).",
    (cfg.BucketRights, "rights"): "`read` objects, `list` buckets, `write` objects, `admin` "
    "create/delete buckets (implies the others).",
    (cfg.RouteSettings, "backend"): "Name of a backend under `backends`.",
    (cfg.PublicBucket, "bucket"): "Bucket name or glob anyone may read (GET/HEAD objects, list).",
    (cfg.PublicBucket, "access"): "Only `read` exists.",
    (cfg.LogSettings, "level"): "Level of the gateway's own log (stderr).",
    (cfg.LogSettings, "access_log"): "One JSON line per S3 request on stderr (logger `s3bridge.access`).",
}

#: Environment variables the gateway itself reads (providers document theirs in their settings).
ENVIRONMENT = [
    (
        "S3BRIDGE_ACCESS_KEY",
        "Key id of the one full-rights key pair used when the file has no `credentials`.",
    ),
    ("S3BRIDGE_SECRET_KEY", "Its secret."),
    (
        "PROMETHEUS_MULTIPROC_DIR",
        "An empty writable directory the workers of `--workers N` share their metrics through. Unset, "
        "`s3bridge serve --workers N` (N > 1) makes a temporary one itself and removes it on exit.",
    ),
]


@functools.cache
def comments(model: type[BaseModel]) -> dict[str, str]:
    """The ``#:`` comment block above each field in the model's source."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    for raw in source.splitlines():
        text = raw.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*:", text)
        if match and pending:
            found[match.group(1)] = " ".join(pending)
        pending = []
    return found


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in args)
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if annotation is type(None):
        return "null"
    if annotation is SecretStr:
        return "string (secret)"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping (below)"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


@contextlib.contextmanager
def _without_environment() -> Iterator[None]:
    """No environment while defaults are computed: a default read from a variable (``OBS_AK``) must never
    land in the reference, whoever runs the generator."""
    saved = dict(os.environ)
    os.environ.clear()
    try:
        yield
    finally:
        os.environ.update(saved)


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        with _without_environment():
            value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"`{json.dumps([v.model_dump(mode='json') for v in value])}`"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{json.dumps(value)}`"


def constraints(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if isinstance(item, annotated_types.BaseMetadata) and value is not None:
                parts.append(f"{sign} {value}")
        if getattr(item, "min_length", None):
            parts.append(f"length ≥ {item.min_length}")
    return ", ".join(parts)


def meaning(model: type[BaseModel], name: str) -> str:
    """What a setting is for, in words: its description, its ``#:`` comment, or a note here."""
    field = model.model_fields[name]
    text = field.description or comments(model).get(name) or NOTES.get((model, name), "")
    return text.replace("``", "`")


def table(model: type[BaseModel]) -> list[str]:
    lines = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        words = meaning(model, name)
        limit = constraints(field)
        if limit:
            words = f"{words} ({limit})" if words else limit
        words = words.replace("|", "\\|")
        lines.append(f"| `{name}` | {type_name(field.annotation)} | {default_text(field)} | {words} |")
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                nested.append((name, arg))
    for name, sub in nested:
        lines += ["", f"`{name}`:", "", *table(sub)]
    return lines


def backend_section(kind: str) -> list[str]:
    lines = [f"### `type: {kind}`", ""]
    try:
        module = catalog.build_module(kind)
    except ImportError:
        return [*lines, "Not available in this build.", ""]
    summary = (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ")
    if summary:
        lines += [summary, ""]
    return [*lines, *table(catalog.SETTINGS[kind]), ""]


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m gateway.configdoc --write` from the configuration models; "
        "do not edit by hand. -->",
        "",
        "`s3bridge serve --config gateway.yaml` reads one YAML file. Any string may refer to the "
        "environment as `${NAME}` or `${NAME:-default}` (a missing variable without a default is an "
        "error), so secrets stay out of the file. Validate a file with `s3bridge check-config --config "
        "FILE`. Unknown settings are refused. Editors check a file as you type with the JSON Schema "
        "beside this page, [gateway.schema.json](gateway.schema.json) (see the README).",
        "",
    ]
    for key, model, what in SECTIONS:
        out += [f"## `{key}`", "", what, "", *table(model), ""]
    out += [
        "## `backends`",
        "",
        "A mapping of backend name to its settings; `type` chooses the kind. The first backend takes "
        "every bucket no route names. Composites (`retry`, `breaker`, `fallback`, `mirror`) refer to "
        "other backends by name.",
        "",
    ]
    for kind in catalog.TYPES:
        out += backend_section(kind)
    out += ["## Environment", "", "| variable | meaning |", "|---|---|"]
    out += [f"| `{name}` | {words} |" for name, words in ENVIRONMENT]
    return "\n".join(out) + "\n"


class _FileSchema(GenerateJsonSchema):
    """The file as an editor reads it: before ``${NAME}`` references are replaced, so a number, a
    boolean or a choice may be written as one; and each setting described in words."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return _or_env_reference(super().int_schema(schema))

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        return _or_env_reference(super().float_schema(schema))

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        return _or_env_reference(super().bool_schema(schema))

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        found = super().literal_schema(schema)
        # A one-value literal is a backend's ``type``, the union's tag: it stays literal.
        return _or_env_reference(found) if len(schema["expected"]) > 1 else found

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        found = super().model_schema(schema)
        model = schema["cls"]
        for name, prop in found.get("properties", {}).items():
            words = meaning(model, name) if name in model.model_fields else ""
            if words and "description" not in prop:
                prop["description"] = words
        return found


def _or_env_reference(found: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [found, {"type": "string", "pattern": cfg.ENV_REF.pattern}]}


def json_schema() -> str:
    """The JSON Schema of the whole file, its backends' definitions named for their type."""
    found = cfg.Config.model_json_schema(schema_generator=_FileSchema)
    found = {
        "$schema": "http://json-schema.org/draft-07/schema#",  # what editors support widely
        **found,
        "title": "s3bridge configuration (gateway.yaml)",
        "description": "Reference: docs/configuration.md. Check a file with: s3bridge check-config --config FILE",
    }
    text = json.dumps(found, indent=2, ensure_ascii=False)
    mapping = found["properties"]["backends"]["additionalProperties"]["discriminator"]["mapping"]
    for kind, ref in mapping.items():
        text = text.replace(f'"{ref}"', f'"#/$defs/{kind}_backend"')
        text = text.replace(f'"{ref.removeprefix("#/$defs/")}":', f'"{kind}_backend":')
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print or write the configuration reference.")
    parser.add_argument("--write", action="store_true", help=f"write {DOC_PATH} and {SCHEMA_PATH}")
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema, not the reference")
    args = parser.parse_args(argv)
    if args.write:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(render())
        SCHEMA_PATH.write_text(json_schema())
    else:
        sys.stdout.write(json_schema() if args.schema else render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
