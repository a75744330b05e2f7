"""The gateway's configuration: ``gateway.yaml`` plus environment variables, validated once at start.

Any string in the file may refer to the environment as ``${NAME}`` or ``${NAME:-default}``, so secrets
stay out of the file; ``*_file`` settings name a file holding a secret (Docker/Kubernetes secrets).
A wrong setting raises ``ConfigError`` with the setting's dotted path and what is wrong; the CLI prints
it and exits, never a traceback.

Each backend type's options are validated by that backend module's own ``Settings`` model
(``backends.<type>.Settings``), so a provider's options live next to the code that uses them.
"""

from __future__ import annotations

import importlib
import os
import re
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

DEFAULT_PORT = 8080
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
#: Backend types that are implemented by a module ``backends.<type>``.
#: backend type → the module holding its ``Settings`` and ``build``.
BACKEND_MODULES = {
    "fs": "backends.fs.backend",
    "s3": "backends.s3.backend",
    "oss": "backends.oss.backend",
    "obs": "backends.obs.backend",
    "retry": "backends.composite.retry",
    "fallback": "backends.composite.fallback",
    "mirror": "backends.composite.mirror",
    "breaker": "backends.composite.breaker",
}
BACKEND_TYPES = tuple(BACKEND_MODULES)


class ConfigError(Exception):
    """A configuration problem, phrased for the operator."""


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


class RouteSettings(_Model):
    #: Client-visible bucket name or glob (``*`` matches any name).
    bucket: str
    backend: str
    #: The bucket in the store; None keeps the client's name.
    remote_bucket: str | None = None
    #: A key prefix inside the remote bucket.
    prefix: str = ""


class PublicBucket(_Model):
    bucket: str
    access: Literal["read"] = "read"


class LogSettings(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True


class Config(_Model):
    server: ServerSettings = Field(default_factory=ServerSettings)
    credentials: list[KeyPair] = Field(default_factory=list)
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: list[RouteSettings] = Field(default_factory=list)
    public_buckets: list[PublicBucket] = Field(default_factory=list)
    logging: LogSettings = Field(default_factory=LogSettings)

    #: Validated backend settings, by name (filled by ``load``).
    backend_settings: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _check(self) -> Config:
        if not self.backends:
            raise ValueError("at least one backend is needed under 'backends'")
        for route in self.routes:
            if route.backend not in self.backends:
                raise ValueError(f"route for {route.bucket!r} names unknown backend {route.backend!r}")
        keys = [k.access_key for k in self.credentials]
        if len(keys) != len(set(keys)):
            raise ValueError("credentials: an access_key is listed twice")
        return self

    def effective_routes(self) -> list[RouteSettings]:
        """The routes, ending with a catch-all to the first backend when none is given."""
        routes = list(self.routes)
        if not any(r.bucket == "*" for r in routes):
            routes.append(RouteSettings(bucket="*", backend=next(iter(self.backends))))
        return routes


def expand_env(value: Any, path: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string; a missing variable is an error."""
    if isinstance(value, dict):
        return {k: expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set")

        return _ENV_REF.sub(sub, value)
    return value


def _format_validation(exc: ValidationError, root: str = "") -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        where = ".".join(p for p in (root, loc) if p) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}")
    return "; ".join(lines)


def backend_module(kind: str) -> Any:
    if kind not in BACKEND_TYPES:
        raise ConfigError(f"unknown backend type {kind!r} (known: {', '.join(BACKEND_TYPES)})")
    try:
        return importlib.import_module(BACKEND_MODULES[kind])
    except ImportError as exc:
        raise ConfigError(f"backend type {kind!r} is not available: {exc}") from None


def validate(raw: dict[str, Any]) -> Config:
    """Validate an already env-expanded document into a Config with typed backend settings."""
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc)) from None
    for name, options in config.backends.items():
        if not isinstance(options, dict) or "type" not in options:
            raise ConfigError(f"backends.{name}: needs a 'type' ({', '.join(BACKEND_TYPES)})")
        module = backend_module(str(options["type"]))
        unknown = sorted(set(options) - set(module.Settings.model_fields))
        if unknown:
            raise ConfigError(f"backends.{name}.{unknown[0]}: unknown setting for type {options['type']}")
        try:
            config.backend_settings[name] = module.Settings.model_validate(options)
        except ValidationError as exc:
            raise ConfigError(_format_validation(exc, f"backends.{name}")) from None
    return config


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
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        if not doc.get("credentials") and os.environ.get("S3BRIDGE_ACCESS_KEY"):
            doc["credentials"] = default_document(Path("."))["credentials"]
        if data_dir is not None:
            for options in (doc.get("backends") or {}).values():
                if isinstance(options, dict) and options.get("type") == "fs":
                    options["root"] = str(data_dir)
    doc = expand_env(doc)
    server = dict(doc.get("server") or {})
    server.update({k: v for k, v in (overrides or {}).items() if v is not None})
    doc["server"] = server
    return validate(doc)
