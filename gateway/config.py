"""The gateway's configuration: ``gateway.yaml`` plus environment variables, validated once at start.

Any string in the file may refer to the environment as ``${NAME}`` or ``${NAME:-default}``, so secrets
stay out of the file; ``*_file`` settings name a file holding a secret (Docker/Kubernetes secrets).
A wrong file raises ``ConfigError`` listing every problem at once, one line each: the setting's path
(``backends.local.type``, ``routes[0].backend``), what is wrong, and the value given (never a secret's).
The CLI prints them and exits, never a traceback.

``backends:`` is a mapping of names to one pydantic union discriminated on ``type``
(``backends.catalog``): each backend type's options are its own ``Settings`` model, kept in the
provider's package beside the code that uses them, and importing no SDK.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from backends import catalog
from backends.catalog import BackendSettings
from backends.composite.router import RouteSettings

DEFAULT_PORT = 8080
#: A reference to the environment in a string of the file: ``${NAME}`` or ``${NAME:-default}``.
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
#: Where a value sits in the document: mapping keys and list indexes.
Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """Configuration problems, phrased for the operator: one line each."""

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Problem:
    """One wrong setting: where it is and what is wrong with it."""

    loc: Loc
    message: str

    def __str__(self) -> str:
        return f"{dotted(self.loc) or '(top level)'}: {self.message}"


def dotted(loc: Loc) -> str:
    """``("routes", 0, "backend")`` → ``routes[0].backend``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=256)
    certfile: Path | None = None
    keyfile: Path | None = None
    #: Region reported by GetBucketLocation and expected nowhere else: clients may sign with any region.
    region: str = "us-east-1"
    #: Base domains for virtual-hosted-style requests: ``bucket.<domain>``.
    domains: list[str] = Field(default_factory=list)
    #: Trust X-Forwarded-Host/-Proto from a reverse proxy in front of the gateway.
    trust_forwarded: bool = False
    #: A path prefix a proxy adds in front of S3 paths (``/s3`` → clients sign ``/s3/bucket/key``).
    path_prefix: str = ""
    #: Allowed clock skew for signed requests, in seconds.
    max_skew_seconds: int = Field(900, ge=1)
    #: Threads for blocking file and SDK calls.
    io_threads: int = Field(16, ge=1, le=512)
    #: Seconds to let in-flight requests finish on SIGTERM.
    shutdown_timeout: int = Field(30, ge=0)
    #: Seconds a request's head (request line and headers) may take to arrive, counted from its first
    #: byte or from the connection opening: 400 RequestTimeout and the connection closes past it.
    header_timeout: float = Field(20.0, gt=0, le=3600)
    #: Seconds without a byte of the request body while the gateway reads it: the connection is dropped
    #: and the upload discarded (time the gateway itself is not reading does not count).
    body_idle_timeout: float = Field(30.0, gt=0, le=3600)
    #: Slowest body accepted, in bytes a second averaged over ``body_idle_timeout``; 0: no minimum.
    body_min_rate: int = Field(1024, ge=0)
    #: Open connections per worker process; one past it is answered 503 SlowDown and closed.
    max_connections: int = Field(1000, ge=1)
    #: Requests served at once per worker process; past it 503 SlowDown with Retry-After. With the fs
    #: backend an upload holds at most about 3.5 MiB, so uploads take at most max_in_flight x 3.5 MiB.
    max_in_flight: int = Field(128, ge=1)

    @field_validator("path_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip()
        if v and not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together")
        for name in ("certfile", "keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name} {path} does not exist")
        return self


Right = Literal["read", "write", "list", "admin"]
ALL_RIGHTS: tuple[Right, ...] = ("read", "write", "list", "admin")


class BucketRights(_Model):
    """Rights of one key pair on the buckets matching ``bucket`` (a glob)."""

    bucket: str = "*"
    rights: list[Literal["read", "write", "list", "admin"]] = Field(default_factory=lambda: list(ALL_RIGHTS))


class KeyPair(_Model):
    access_key: str = Field(min_length=1)
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    buckets: list[BucketRights] = Field(default_factory=lambda: [BucketRights()])
    #: The identity's S3 canonical user id (64 hex digits), as ACLs and ``Owner`` elements show it;
    #: derived from the access key when unset (stable across restarts: see gateway.identity).
    canonical_id: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    #: The name ``Owner``/``Grantee`` elements show; the access key when unset.
    display_name: str | None = Field(None, min_length=1, max_length=128)
    #: An S3 account of its own: its bucket rights above only cap it, and on buckets it does not own it
    #: needs an ACL grant or a bucket policy as another AWS account would. False (the default): its
    #: bucket rights grant access by themselves, as before ACLs existed.
    isolated: bool = False

    @model_validator(mode="after")
    def _secret(self) -> KeyPair:
        if self.secret_key is None and self.secret_key_file is None:
            raise ValueError("needs secret_key or secret_key_file")
        if self.secret_key is None and self.secret_key_file is not None:
            try:
                self.secret_key = SecretStr(Path(self.secret_key_file).read_text().strip())
            except OSError as exc:
                raise ValueError(f"cannot read secret_key_file: {exc.strerror}") from None
        if not self.secret_key or not self.secret_key.get_secret_value():
            raise ValueError("secret_key is empty")
        return self


class PublicBucket(_Model):
    bucket: str
    #: ``read``: anonymous reads; ``read-write``: also anonymous browser-form uploads (POST object).
    access: Literal["read", "read-write"] = "read"


class CorsRuleSettings(_Model):
    """One CORS rule, as a CORSRule of PutBucketCors says it."""

    id: str | None = None
    #: Origins allowed, each with at most one ``*`` (``*`` alone: any origin).
    allowed_origins: list[str] = Field(min_length=1)
    allowed_methods: list[Literal["GET", "PUT", "POST", "DELETE", "HEAD"]] = Field(min_length=1)
    #: Headers a preflight may ask for (``*`` wildcards; names compared case-insensitively).
    allowed_headers: list[str] = Field(default_factory=list)
    #: Response headers the browser lets the page's script read.
    expose_headers: list[str] = Field(default_factory=list)
    max_age_seconds: int | None = Field(None, ge=0)

    @field_validator("allowed_origins", "allowed_headers")
    @classmethod
    def _one_wildcard(cls, values: list[str]) -> list[str]:
        for value in values:
            if value.count("*") > 1:
                raise ValueError(f"{value!r} can not have more than one wildcard")
        return values


class CorsSettings(_Model):
    """The CORS rules of every bucket that has none of its own (set with PutBucketCors)."""

    rules: list[CorsRuleSettings] = Field(min_length=1, max_length=100)


class LogSettings(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    #: ``json``: every line on stderr (the gateway's, the access log, uvicorn's) is one JSON object;
    #: ``text``: ``time level logger message`` lines, the access log as bare JSON lines.
    format: Literal["json", "text"] = "text"


class StatusSettings(_Model):
    """The status page at ``/_s3bridge/status`` (HTML) and ``/_s3bridge/status.json``."""

    #: Access keys (of ``credentials``) that may open the page from anywhere, by HTTP Basic
    #: authentication: the access key as user name, its secret key as password (use TLS). Without,
    #: only callers on this machine (a loopback address, no untrusted forwarding header) see it.
    access_keys: list[str] = Field(default_factory=list)
    #: Minutes of request and error counts the page shows.
    window_minutes: int = Field(15, ge=1, le=120)


class TelemetrySettings(_Model):
    """OpenTelemetry tracing (``pip install s3bridge[otel]``); off unless an endpoint is given here or
    in ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

    #: OTLP/HTTP traces endpoint (``http://collector:4318/v1/traces``); none: tracing off unless the
    #: standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variable is set.
    otlp_endpoint: str | None = None
    #: The ``service.name`` of the spans.
    service_name: str = "s3bridge"


class Config(_Model):
    """The whole file. Names across sections (routes and composites naming backends, access keys
    listed once) are checked by ``validate``, with every other problem of the file."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    credentials: list[KeyPair] = Field(default_factory=list)
    backends: dict[str, BackendSettings] = Field(default_factory=dict, json_schema_extra={"minProperties": 1})
    routes: list[RouteSettings] = Field(default_factory=list)
    public_buckets: list[PublicBucket] = Field(default_factory=list)
    #: Default CORS rules for buckets without their own; none: such buckets answer no CORS request.
    cors: CorsSettings | None = None
    logging: LogSettings = Field(default_factory=LogSettings)
    status: StatusSettings = Field(default_factory=StatusSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    def reserved_buckets(self) -> frozenset[str]:
        """Buckets the backends keep for the gateway itself (``meta_bucket``: the bucket settings it
        evaluates). No client request may name one: a write there would forge a policy or an ACL."""
        return frozenset(
            name for b in self.backends.values() if (name := getattr(b, "meta_bucket", None)) is not None
        )

    def effective_routes(self) -> list[RouteSettings]:
        """The routes, ending with a catch-all to the first backend when none is given."""
        routes = list(self.routes)
        if not any(r.bucket == "*" for r in routes):
            routes.append(RouteSettings(bucket="*", backend=next(iter(self.backends))))
        return routes


def _expand(value: Any, loc: Loc, missing: list[Problem]) -> Any:
    """``value`` with its environment references replaced; a missing variable is noted and left as is."""
    if isinstance(value, dict):
        return {k: _expand(v, (*loc, str(k)), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*loc, i), missing) for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append(Problem(loc, f"environment variable {name} is not set"))
            return m.group(0)

        return ENV_REF.sub(sub, value)
    return value


def expand_env(value: Any) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string; a missing variable is an error."""
    missing: list[Problem] = []
    expanded = _expand(value, (), missing)
    if missing:
        raise ConfigError(*map(str, missing))
    return expanded


# -- the problems of a document ------------------------------------------------------------------------
def _types(annotation: Any) -> Iterator[Any]:
    """The classes an annotation is made of (``list[KeyPair] | None`` → list, KeyPair, None)."""
    if isinstance(annotation, type):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _types(arg)


def _secret_names(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """Settings whose value an error message must not repeat: secrets, and what stays out of repr."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        kinds = set(_types(field.annotation))
        if SecretStr in kinds or not field.repr:
            names.add(name)
        for sub in kinds - seen:
            if issubclass(sub, BaseModel):
                seen.add(sub)
                names |= _secret_names(sub, seen)
    return names


_SECRETS = _secret_names(Config, set())
_SCALARS = (str, int, float, bool, type(None))


def _shown(err: ErrorDetails, loc: Loc, message: str) -> str:
    """`` (got VALUE)`` for a wrong scalar, unless it is a secret or the message already says it."""
    value = err["input"]
    names = [p for p in loc if isinstance(p, str)]
    if err["type"] in ("missing", "extra_forbidden") or not isinstance(value, _SCALARS):
        return ""
    if names and names[-1] in _SECRETS:
        return ""
    text = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return "" if text in message else f" (got {text})"


def _problem(err: ErrorDetails) -> Problem:
    """One pydantic error as the operator reads it."""
    loc: Loc = tuple(err["loc"])
    kind = None
    if len(loc) > 2 and loc[0] == "backends":  # pydantic puts the union's tag in the path: drop it
        kind, loc = loc[2], loc[:2] + loc[3:]
    known = ", ".join(catalog.TYPES)
    match err["type"]:
        case "union_tag_not_found":
            return Problem((*loc, "type"), f"missing: one of {known}")
        case "union_tag_invalid":
            return Problem((*loc, "type"), f"unknown backend type {err['input']['type']!r} (known: {known})")
        case "extra_forbidden":
            message = f"unknown setting for type {kind}" if kind else "unknown setting"
        case "model_type" | "model_attributes_type" | "dict_type":
            message = "must be a mapping"
        case _:
            message = err["msg"].removeprefix("Value error, ")
    return Problem(loc, message + _shown(err, loc, message))


def _sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _cross_references(doc: dict[str, Any]) -> list[Problem]:
    """What no one section can check: names of backends used elsewhere, access keys listed once."""
    problems: list[Problem] = []
    backends = doc.get("backends", {})
    if backends == {}:
        problems.append(Problem(("backends",), "at least one backend is needed"))
    if not isinstance(backends, dict):
        backends = {}
    known = ", ".join(map(str, backends)) or "none"

    def check(loc: Loc, name: Any) -> None:
        if isinstance(name, str) and name not in backends:
            problems.append(Problem(loc, f"unknown backend {name!r} (known: {known})"))

    for name, options in backends.items():
        kind = options.get("type") if isinstance(options, dict) else None
        if not isinstance(kind, str) or kind not in catalog.SETTINGS:
            continue  # reported by the union
        model = catalog.SETTINGS[kind]
        for field in catalog.references(kind):
            value = options.get(field)
            if typing.get_origin(model.model_fields[field].annotation) is not list:
                check(("backends", name, field), value)
            elif isinstance(value, list):
                for i, member in enumerate(value):
                    check(("backends", name, field, i), member)
    reserved = {
        options["meta_bucket"]
        for options in backends.values()
        if isinstance(options, dict) and isinstance(options.get("meta_bucket"), str)
    }
    for i, route in enumerate(_sequence(doc.get("routes"))):
        if isinstance(route, dict):
            check(("routes", i, "backend"), route.get("backend"))
            for field in ("bucket", "remote_bucket"):
                if route.get(field) in reserved:
                    problems.append(
                        Problem(
                            ("routes", i, field),
                            f"{route[field]!r} is a backend's meta_bucket: clients never reach it",
                        )
                    )
    first: dict[str, int] = {}
    for i, pair in enumerate(_sequence(doc.get("credentials"))):
        key = pair.get("access_key") if isinstance(pair, dict) else None
        if isinstance(key, str) and key in first:
            problems.append(
                Problem(
                    ("credentials", i, "access_key"), f"{key!r} is listed twice (credentials[{first[key]}])"
                )
            )
        elif isinstance(key, str):
            first[key] = i
    status = doc.get("status")
    for i, key in enumerate(_sequence(status.get("access_keys")) if isinstance(status, dict) else []):
        if isinstance(key, str) and key not in first:
            problems.append(
                Problem(("status", "access_keys", i), f"{key!r} is not an access key of credentials")
            )
    return problems


def problems_of(doc: dict[str, Any]) -> tuple[Config | None, list[Problem]]:
    """The validated configuration, or None and every problem of the document."""
    try:
        config: Config | None = Config.model_validate(doc)
        problems = []
    except ValidationError as exc:
        config, problems = None, [_problem(err) for err in exc.errors()]
    problems += _cross_references(doc)
    sections = list(Config.model_fields)  # in the file's order, each section's problems together
    problems.sort(key=lambda p: sections.index(p.loc[0]) if p.loc and p.loc[0] in sections else -1)
    return (None if problems else config), problems


def validate(raw: dict[str, Any]) -> Config:
    """Validate an already env-expanded document; ``ConfigError`` lists every problem."""
    config, problems = problems_of(raw)
    if config is None:
        raise ConfigError(*map(str, problems))
    return config


def _related(a: Loc, b: Loc) -> bool:
    """One path lies within the other (a setting and the section holding it)."""
    return bool(a) and bool(b) and a[: len(b)] == b[: len(a)]


def default_document(data_dir: Path) -> dict[str, Any]:
    """The embedded default: one filesystem backend, one key pair from the environment."""
    access = os.environ.get("S3BRIDGE_ACCESS_KEY")
    secret = os.environ.get("S3BRIDGE_SECRET_KEY")
    if not access or not secret:
        raise ConfigError(
            "credentials: set S3BRIDGE_ACCESS_KEY and S3BRIDGE_SECRET_KEY (or pass --config with a "
            "credentials section); s3bridge does not serve unauthenticated by default"
        )
    return {
        "credentials": [{"access_key": access, "secret_key": secret}],
        "backends": {"local": {"type": "fs", "root": str(data_dir)}},
    }


def yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """A YAML error in one line naming the file and where in it (PyYAML's own text runs to seven lines
    and names ``<unicode string>``)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    context = getattr(exc, "context", None)
    reason = f"{problem} ({context})" if context else str(problem)
    return f"{path} is not valid YAML: {where}{reason}"


def load(
    path: Path | None, *, data_dir: Path | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Read and validate; ``overrides`` are server settings from the command line."""
    if path is None:
        doc = default_document(data_dir or Path("./data"))
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(yaml_problem(path, exc)) from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        if not doc.get("credentials") and os.environ.get("S3BRIDGE_ACCESS_KEY"):
            doc["credentials"] = default_document(Path("."))["credentials"]
        if data_dir is not None:
            for options in (doc.get("backends") or {}).values():
                if isinstance(options, dict) and options.get("type") == "fs":
                    options["root"] = str(data_dir)
    missing: list[Problem] = []
    doc = _expand(doc, (), missing)
    server = doc.get("server") or {}
    if isinstance(server, dict):  # anything else is reported as it stands
        doc["server"] = {**server, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    config, problems = problems_of(doc)
    # A setting whose variable is missing is reported once, as that, not again as a wrong value.
    problems = missing + [p for p in problems if not any(_related(p.loc, m.loc) for m in missing)]
    if config is None or problems:
        raise ConfigError(*map(str, problems))
    return config
