"""gateway.config: loading gateway.yaml, ${ENV} references, secrets, validation errors phrased for people."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, expand_env, load, validate
from tests.helpers.procs import REPO

BACKENDS = {"local": {"type": "fs", "root": "/tmp/s3bridge-unused"}}
PAIR = {"access_key": "ak", "secret_key": "sk-value"}


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
    assert config.backend_settings["local"].type == "fs"
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
    assert config.backend_settings["local"].root == tmp_path
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
    assert config.backend_settings["local"].root == tmp_path / "d"


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
    assert "credentials.0" in missing and "cannot read secret_key_file" in missing


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
    assert "credentials.0.bogus" in message


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"backends": {}}, "at least one backend"),
        ({"backends": BACKENDS, "serverr": {}}, "serverr: Extra inputs are not permitted"),
        ({"backends": BACKENDS, "server": {"port": 70000}}, "server.port"),
        ({"backends": BACKENDS, "server": {"workers": 0}}, "server.workers"),
        ({"backends": BACKENDS, "server": {"path_prefix": "s3"}}, "server.path_prefix: must start with '/'"),
        (
            {"backends": BACKENDS, "server": {"certfile": "/nonexistent.pem"}},
            "certfile and keyfile go together",
        ),
        (
            {"backends": BACKENDS, "routes": [{"bucket": "photos", "backend": "nowhere"}]},
            "route for 'photos' names unknown backend 'nowhere'",
        ),
        ({"backends": BACKENDS, "credentials": [PAIR, PAIR]}, "access_key is listed twice"),
        ({"backends": BACKENDS, "credentials": [{"access_key": "a"}]}, "needs secret_key or secret_key_file"),
        (
            {"backends": BACKENDS, "credentials": [{"access_key": "a", "secret_key": ""}]},
            "secret_key is empty",
        ),
        (
            {
                "backends": BACKENDS,
                "credentials": [{**PAIR, "buckets": [{"bucket": "*", "rights": ["fly"]}]}],
            },
            "credentials.0.buckets.0.rights.0",
        ),
        ({"backends": {"x": {"type": "ftp"}}}, "unknown backend type 'ftp'"),
        ({"backends": {"x": {"root": "/tmp"}}}, "backends.x: needs a 'type'"),
        ({"backends": {"x": {"type": "fs"}}}, "backends.x.root: Field required"),
        (
            {"backends": BACKENDS, "public_buckets": [{"bucket": "p", "access": "write"}]},
            "public_buckets.0.access",
        ),
        ({"backends": BACKENDS, "logging": {"level": "loud"}}, "logging.level"),
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
    assert "backends.x." in message


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
