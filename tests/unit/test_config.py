"""gateway.config: loading gateway.yaml, ${ENV} references, secrets, validation errors phrased for people."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from backends import catalog
from backends.composite.router import RouteSettings
from gateway import config as gateway_config
from gateway.config import ConfigError, expand_env, load, validate
from tests.helpers.procs import REPO

BACKENDS = {"local": {"type": "fs", "root": "/tmp/s3bridge-unused"}}
PAIR = {"access_key": "ak", "secret_key": "sk-value"}
#: One backend of every type, composites over the providers.
EVERY_TYPE = {
    "local": {"type": "fs", "root": "/tmp/s3bridge-unused"},
    "minio": {"type": "s3", "endpoint": "http://127.0.0.1:9000", "access_key": "a", "secret_key": "b"},
    "aliyun": {
        "type": "oss",
        "endpoint": "https://oss-cn-hangzhou.aliyuncs.com",
        "access_key_id": "a",
        "access_key_secret": "b",
    },
    "huawei": {"type": "obs", "server": "https://obs.example.com", "access_key": "a", "secret_key": "b"},
    "retried": {"type": "retry", "backend": "minio"},
    "guarded": {"type": "breaker", "backend": "aliyun"},
    "safe": {"type": "fallback", "primary": "retried", "secondary": "local", "breaker": {}},
    "both": {"type": "mirror", "members": ["huawei", "guarded"]},
    "sealed": {"type": "encrypt", "backend": "local", "key_id": "k1", "master_key": "ab" * 32},
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def error_of(doc: dict) -> str:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        validate(doc)
    return str(err.value)


def test_repository_gateway_yaml_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3BRIDGE_ACCESS_KEY", "doc-key")
    monkeypatch.setenv("S3BRIDGE_SECRET_KEY", "doc-secret-0123456789")
    config = load(REPO / "gateway.yaml")
    assert config.server.port == 8080
    assert config.credentials[0].access_key == "doc-key"
    assert config.backends["local"].type == "fs"
    assert config.logging.access_log is True


def test_repository_gateway_yaml_needs_its_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S3BRIDGE_ACCESS_KEY", raising=False)
    monkeypatch.delenv("S3BRIDGE_SECRET_KEY", raising=False)
    with pytest.raises(
        ConfigError, match=r"credentials\[0\]\.access_key: environment variable S3BRIDGE_ACCESS_KEY"
    ):
        load(REPO / "gateway.yaml")


def test_env_references_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOT_DIR", "/srv/data")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    doc = {"a": "${ROOT_DIR}/x", "b": ["${UNSET_VAR:-fallback}", 3], "c": {"d": "${UNSET_VAR:-}"}}
    assert expand_env(doc) == {"a": "/srv/data/x", "b": ["fallback", 3], "c": {"d": ""}}
    with pytest.raises(ConfigError, match=r"c\.d: environment variable UNSET_VAR is not set"):
        expand_env({"c": {"d": "${UNSET_VAR}"}})


def test_default_document_needs_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("S3BRIDGE_ACCESS_KEY", raising=False)
    monkeypatch.delenv("S3BRIDGE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="S3BRIDGE_ACCESS_KEY"):
        load(None, data_dir=tmp_path)
    monkeypatch.setenv("S3BRIDGE_ACCESS_KEY", "k")
    monkeypatch.setenv("S3BRIDGE_SECRET_KEY", "s")
    config = load(None, data_dir=tmp_path)
    assert config.backends["local"].root == tmp_path
    assert [k.access_key for k in config.credentials] == ["k"]


def test_file_without_credentials_takes_them_from_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("S3BRIDGE_ACCESS_KEY", "env-key")
    monkeypatch.setenv("S3BRIDGE_SECRET_KEY", "env-secret")
    config = load(write(tmp_path, "backends:\n  local: {type: fs, root: /tmp/a}\n"))
    assert config.credentials[0].access_key == "env-key"


def test_data_dir_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("S3BRIDGE_ACCESS_KEY", raising=False)
    path = write(
        tmp_path,
        "server: {port: 9000, host: 0.0.0.0}\n"
        "credentials: [{access_key: a, secret_key: b}]\n"
        "backends:\n  local: {type: fs, root: /tmp/a}\n",
    )
    config = load(path, data_dir=tmp_path / "d", overrides={"port": 9100, "host": None, "workers": 3})
    assert (config.server.host, config.server.port, config.server.workers) == ("0.0.0.0", 9100, 3)
    assert config.backends["local"].root == tmp_path / "d"


def test_secret_key_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    config = validate(
        {"credentials": [{"access_key": "a", "secret_key_file": str(secret)}], "backends": BACKENDS}
    )
    assert config.credentials[0].secret_key is not None
    assert config.credentials[0].secret_key.get_secret_value() == "from-a-file"
    missing = error_of(
        {
            "credentials": [{"access_key": "a", "secret_key_file": str(tmp_path / "nope")}],
            "backends": BACKENDS,
        }
    )
    assert "credentials[0]: cannot read secret_key_file" in missing


def test_secrets_stay_out_of_repr_and_errors() -> None:
    config = validate(
        {"credentials": [{"access_key": "a", "secret_key": "TOPSECRET-123"}], "backends": BACKENDS}
    )
    assert "TOPSECRET" not in repr(config)
    assert "TOPSECRET" not in str(config.model_dump())
    message = error_of(
        {
            "credentials": [{"access_key": "a", "secret_key": "TOPSECRET-123", "bogus": 1}],
            "backends": BACKENDS,
        }
    )
    assert "TOPSECRET" not in message
    assert "credentials[0].bogus: unknown setting" in message


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"backends": {}}, "backends: at least one backend"),
        ({"backends": BACKENDS, "serverr": {}}, "serverr: unknown setting"),
        (
            {"backends": BACKENDS, "server": {"port": 70000}},
            "server.port: Input should be less than or equal to 65535 (got 70000)",
        ),
        ({"backends": BACKENDS, "server": {"workers": 0}}, "server.workers"),
        ({"backends": BACKENDS, "server": {"path_prefix": "s3"}}, "server.path_prefix: must start with '/'"),
        (
            {"backends": BACKENDS, "server": {"certfile": "/nonexistent.pem"}},
            "certfile and keyfile go together",
        ),
        (
            {"backends": BACKENDS, "routes": [{"bucket": "photos", "backend": "nowhere"}]},
            "routes[0].backend: unknown backend 'nowhere' (known: local)",
        ),
        (
            {"backends": BACKENDS, "credentials": [PAIR, PAIR]},
            "credentials[1].access_key: 'ak' is listed twice (credentials[0])",
        ),
        (
            {"backends": BACKENDS, "credentials": [{"access_key": "a"}]},
            "credentials[0]: needs secret_key or secret_key_file",
        ),
        (
            {"backends": BACKENDS, "credentials": [{"access_key": "a", "secret_key": ""}]},
            "secret_key is empty",
        ),
        (
            {
                "backends": BACKENDS,
                "credentials": [{**PAIR, "buckets": [{"bucket": "*", "rights": ["fly"]}]}],
            },
            "credentials[0].buckets[0].rights[0]: Input should be 'read', 'write', 'list' or 'admin' (got 'fly')",
        ),
        ({"backends": {"x": {"type": "ftp"}}}, "backends.x.type: unknown backend type 'ftp' (known: fs, s3,"),
        ({"backends": {"x": {"root": "/tmp"}}}, "backends.x.type: missing: one of fs, s3,"),
        ({"backends": {"x": {"type": "fs"}}}, "backends.x.root: Field required"),
        (
            {"backends": BACKENDS, "public_buckets": [{"bucket": "p", "access": "write"}]},
            "public_buckets[0].access: Input should be 'read' or 'read-write' (got 'write')",
        ),
        ({"backends": BACKENDS, "logging": {"level": "loud"}}, "logging.level: Input should be 'debug'"),
    ],
)
def test_validation_errors_name_the_setting(doc: dict, expected: str) -> None:  # type: ignore[type-arg]
    assert expected in error_of(doc)


@pytest.mark.parametrize(
    "options",
    [
        {"type": "fs", "root": "/tmp", "fsynk": False},
        {"type": "retry", "backend": "local", "atempts": 5},
    ],
)
def test_unknown_backend_option_is_refused(options: dict) -> None:  # type: ignore[type-arg]
    message = error_of({"backends": {**BACKENDS, "x": options}})
    wrong = next(name for name in options if name not in ("type", "root", "backend"))
    assert message == f"backends.x.{wrong}: unknown setting for type {options['type']}"


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(write(tmp_path, "server: [unclosed\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load(write(tmp_path, "- a\n- b\n"))


def test_effective_routes_end_with_catch_all() -> None:
    config = validate(
        {
            "backends": {**BACKENDS, "other": {"type": "fs", "root": "/tmp/o"}},
            "routes": [{"bucket": "photos", "backend": "other", "prefix": "p/"}],
        }
    )
    routes = config.effective_routes()
    assert [(r.bucket, r.backend) for r in routes] == [("photos", "other"), ("*", "local")]


# -- the backends union, every problem at once -------------------------------------------------------
def test_every_backend_type_validates_into_its_own_settings() -> None:
    config = validate({"credentials": [PAIR], "backends": EVERY_TYPE})
    assert set(catalog.SETTINGS) == set(catalog.MODULES) == {o["type"] for o in EVERY_TYPE.values()}
    for name, options in EVERY_TYPE.items():
        settings = config.backends[name]
        assert type(settings) is catalog.SETTINGS[options["type"]]
        assert settings.type == options["type"]
        assert callable(catalog.build_module(options["type"]).build)


def test_validating_imports_no_sdk() -> None:
    """A configuration validates (and check-config reports its errors) without loading a provider SDK."""
    script = (
        "import json, sys\n"
        "from gateway.config import validate\n"
        f"config = validate(json.loads({json.dumps(json.dumps({'backends': EVERY_TYPE}))}))\n"
        f"assert len(config.backends) == {len(EVERY_TYPE)}\n"
        "print(json.dumps(sorted(m for m in ('oss2', 'obs', 'minio') if m in sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_every_problem_is_reported_at_once_with_path_and_value() -> None:
    doc = {
        "server": {"port": 70000, "workers": "many"},
        "credentials": [PAIR, {**PAIR, "colour": "blue"}],
        "backends": {
            "local": {"type": "fs", "root": "/tmp", "fsynk": False},
            "x": {"type": "ftp"},
            "y": {"root": "/tmp"},
            "z": 3,
            "r": {"type": "retry", "backend": "ghost", "attempts": 0},
            "m": {"type": "mirror", "members": ["local", "nope"]},
            "s": {"type": "s3", "endpoint": "http://h/path"},
            "f": {"type": "fallback", "primary": "local", "secondary": "s", "breaker": {"treshold": 1}},
        },
        "routes": [{"bucket": "photos", "backend": "nowhere"}, {"bucket": "", "backend": "local"}],
        "logging": {"level": "loud"},
    }
    known = "fs, s3, oss, obs, retry, fallback, mirror, breaker, encrypt"
    names = "local, x, y, z, r, m, s, f"
    assert error_of(doc).splitlines() == [
        "server.port: Input should be less than or equal to 65535 (got 70000)",
        "server.workers: Input should be a valid integer, unable to parse string as an integer (got 'many')",
        "credentials[1].colour: unknown setting",
        "credentials[1].access_key: 'ak' is listed twice (credentials[0])",
        "backends.local.fsynk: unknown setting for type fs",
        f"backends.x.type: unknown backend type 'ftp' (known: {known})",
        f"backends.y.type: missing: one of {known}",
        "backends.z: must be a mapping (got 3)",
        "backends.r.attempts: Input should be greater than or equal to 1 (got 0)",
        "backends.s.endpoint: endpoint must not carry a path, query or credentials (got 'http://h/path')",
        "backends.f.breaker.treshold: unknown setting for type fallback",
        f"backends.r.backend: unknown backend 'ghost' (known: {names})",
        f"backends.m.members[1]: unknown backend 'nope' (known: {names})",
        "routes[1].bucket: String should have at least 1 character (got '')",
        f"routes[0].backend: unknown backend 'nowhere' (known: {names})",
        "logging.level: Input should be 'debug', 'info', 'warning' or 'error' (got 'loud')",
    ]


def test_problems_never_repeat_a_secret() -> None:
    doc = {
        "credentials": [{"access_key": "a", "secret_key": 12345678}],
        "backends": {
            "s": {"type": "s3", "endpoint": "http://h", "access_key": "a", "secret_key": 87654321},
            "o": {
                "type": "oss",
                "endpoint": "oss-cn-x.aliyuncs.com",
                "access_key_id": "a",
                "access_key_secret": 1,
            },
        },
    }
    lines = error_of(doc).splitlines()
    assert lines == [
        "credentials[0].secret_key: Input should be a valid string",
        "backends.s.secret_key: Input should be a valid string",
        "backends.o.access_key_secret: Input should be a valid string",
    ]


def test_missing_environment_is_reported_once_beside_other_problems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CFG_TEST_PORT", raising=False)
    monkeypatch.delenv("CFG_TEST_SECRET", raising=False)
    path = write(
        tmp_path,
        "server: {port: '${CFG_TEST_PORT}', workers: 0}\n"
        "credentials: [{access_key: a, secret_key: '${CFG_TEST_SECRET}'}]\n"
        "backends:\n  local: {type: fs, root: /tmp/a}\n",
    )
    with pytest.raises(ConfigError) as err:
        load(path)
    assert err.value.problems == [
        "server.port: environment variable CFG_TEST_PORT is not set",
        "credentials[0].secret_key: environment variable CFG_TEST_SECRET is not set",
        "server.workers: Input should be greater than or equal to 1 (got 0)",
    ]
    monkeypatch.setenv("CFG_TEST_PORT", "9001")
    monkeypatch.setenv("CFG_TEST_SECRET", "s")
    path.write_text(path.read_text().replace("workers: 0", "workers: 2"))
    assert load(path).server.port == 9001


def test_one_route_model_on_both_sides() -> None:
    assert gateway_config.RouteSettings is RouteSettings
    assert gateway_config.Config.model_fields["routes"].annotation == list[RouteSettings]


# -- the JSON Schema editors use ---------------------------------------------------------------------
def schema_errors(doc: Any) -> list[str]:
    """What an editor would flag in the file, by path."""
    schema = json.loads((REPO / "docs" / "gateway.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(".".join(map(str, e.absolute_path)) for e in validator.iter_errors(doc))


@pytest.mark.parametrize(
    "path", [REPO / "gateway.yaml", REPO / "deploy" / "gateway.yaml"], ids=["repo", "deploy"]
)
def test_gateway_yaml_validates_against_the_schema(path: Path) -> None:
    """As written, ${VAR} references and all: that is what the editor sees."""
    text = path.read_text()
    assert schema_errors(yaml.safe_load(text)) == []
    if path.parent == REPO:
        assert text.startswith("# yaml-language-server: $schema=docs/gateway.schema.json\n")


def test_schema_refuses_what_the_gateway_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    good = {"credentials": [{"access_key": "a", "secret_key": "b"}], "backends": EVERY_TYPE}
    assert schema_errors(good) == []
    assert schema_errors({**good, "server": {"port": "${PORT}", "trust_forwarded": "${TRUST:-false}"}}) == []
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.delenv("TRUST", raising=False)
    assert validate(expand_env({**good, "server": {"port": "${PORT}", "trust_forwarded": "${TRUST:-false}"}}))
    bad = {
        "server": {"port": 70000, "colour": "blue"},
        "credentials": [{"access_key": ""}],
        "backends": {"x": {"type": "ftp"}, "l": {"type": "fs", "root": "/d", "fsynk": True}},
        "logging": {"level": "loud"},
    }
    assert schema_errors(bad) == [
        "backends.l",
        "backends.x",
        "credentials.0.access_key",
        "logging.level",
        "server",
        "server.port",
    ]
    assert schema_errors({"backends": {}}) == ["backends"]


def test_a_route_to_a_meta_bucket_is_refused() -> None:
    """A route naming a backend's meta_bucket would hand clients the gateway's settings documents."""
    from gateway.config import problems_of

    doc = {
        "backends": {"s3": {"type": "s3", "endpoint": "http://127.0.0.1:9", "meta_bucket": "gw-meta"}},
        "routes": [{"bucket": "innocent", "backend": "s3", "remote_bucket": "gw-meta"}],
    }
    config, problems = problems_of(doc)
    assert config is None
    assert [str(p) for p in problems if "meta_bucket" in str(p)] == [
        "routes[0].remote_bucket: 'gw-meta' is a backend's meta_bucket: clients never reach it"
    ]
