"""Documents that must agree with the code: the generated configuration reference, gateway.yaml files,
and the deploy manifests (settings, paths, ports and environment names they rely on)."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import configdoc
from gateway.config import Config, expand_env, validate
from gateway.observability import LIVE_PATH, METRICS_PATH, READY_PATH
from tests.helpers.deploy import DEPLOY, dockerfile
from tests.helpers.procs import REPO

ENTRYPOINT = ["s3bridge", "serve", "--config", "/etc/s3bridge/gateway.yaml", "--host", "0.0.0.0"]
CONFIG_DIR = "/etc/s3bridge"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def env_refs(text: str) -> set[str]:
    return set(_ENV_REF.findall(text))


def config_from(text: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    for name in env_refs(text):
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    return validate(expand_env(yaml.safe_load(text)))


def known_env(config_text: str) -> set[str]:
    """Environment names a container may set: those the config refers to and those the gateway reads."""
    return env_refs(config_text) | {name for name, _ in configdoc.ENVIRONMENT}


# -- the generated reference ---------------------------------------------------------------------------
def test_configuration_reference_is_current() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == configdoc.render(), (
        "docs/configuration.md is stale: python -m gateway.configdoc --write"
    )


def test_json_schema_is_current() -> None:
    committed = (REPO / "docs" / "gateway.schema.json").read_text()
    assert committed == configdoc.json_schema(), (
        "docs/gateway.schema.json is stale: python -m gateway.configdoc --write"
    )


def test_reference_covers_every_setting() -> None:
    text = configdoc.render()
    for _, model, _ in configdoc.SECTIONS:
        for name, field in model.model_fields.items():
            if not field.exclude:
                assert re.search(rf"^\| `{name}` \|.*\| [^|]*\w[^|]* \|$", text, re.M), (
                    f"{model.__name__}.{name}"
                )


def test_every_gateway_setting_is_described() -> None:
    """A setting without words is a setting nobody can use; the gateway's own sections have them all."""
    for _, model, _ in configdoc.SECTIONS:
        notes = configdoc.comments(model)
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            described = field.description or notes.get(name) or configdoc.NOTES.get((model, name))
            assert described, f"{model.__name__}.{name} has no description"


def test_comment_extraction_reads_hash_colon_blocks() -> None:
    notes = configdoc.comments(configdoc.cfg.ServerSettings)
    assert notes["shutdown_timeout"].startswith("Seconds to let in-flight requests finish")
    assert "host" not in notes


# -- gateway.yaml files --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [REPO / "gateway.yaml", DEPLOY / "gateway.yaml"], ids=["repo", "deploy"])
def test_gateway_yaml_validates(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_from(path.read_text(), monkeypatch)
    assert config.credentials and config.backends


def test_repo_gateway_yaml_mentions_every_server_setting() -> None:
    """gateway.yaml promises "every setting, with its default": hold it to that for the server section."""
    text = (REPO / "gateway.yaml").read_text()
    server = yaml.safe_load(text)["server"]
    for name, field in configdoc.cfg.ServerSettings.model_fields.items():
        assert name in server or re.search(rf"^\s*#\s*{name}:", text, re.M), name
        default = field.get_default(call_default_factory=True)
        if name in server:
            assert server[name] == default, f"gateway.yaml server.{name} is not the default"


# -- Dockerfile ----------------------------------------------------------------------------------------
def test_dockerfile() -> None:
    d = dockerfile()
    assert d["FROM"] == "${BASE}"
    base = d["ARG"].removeprefix("BASE=")
    # pinned: an exact version tag and the digest (python:3.11-slim would move under the same Dockerfile)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}", base), base
    assert json.loads(d["ENTRYPOINT"]) == ENTRYPOINT
    user = d["USER"]
    assert user not in ("root", "0")
    volumes = json.loads(d["VOLUME"])
    assert set(volumes) == {CONFIG_DIR, "/data"}
    port = yaml.safe_load((DEPLOY / "gateway.yaml").read_text())["server"]["port"]
    assert d["EXPOSE"] == str(port)
    health = json.loads(d["HEALTHCHECK"].split("CMD", 1)[1])
    # the probe reads the port from the configuration serve reads, never a fixed one
    assert health == ["python3", "-m", "gateway.healthcheck", "--config", ENTRYPOINT[3]]
    assert str(port) not in d["HEALTHCHECK"]
    # the container logs one JSON object a line (its configuration says so; no variable can undo it)
    assert yaml.safe_load((DEPLOY / "gateway.yaml").read_text())["logging"]["format"] == "json"
    assert "COPY deploy/gateway.yaml /etc/s3bridge/gateway.yaml" in (DEPLOY / "Dockerfile").read_text()
    documented = env_refs((DEPLOY / "gateway.yaml").read_text()) | {n for n, _ in configdoc.ENVIRONMENT}
    header = (DEPLOY / "Dockerfile").read_text()
    for name in documented:
        assert name in header, f"Dockerfile does not document {name}"


def test_deploy_config_root_is_the_data_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_from((DEPLOY / "gateway.yaml").read_text(), monkeypatch)
    roots = [str(s.root) for s in config.backends.values() if s.type == "fs"]
    assert roots == ["/data"]
    assert config.server.host == "0.0.0.0"


# -- compose.yaml --------------------------------------------------------------------------------------
def test_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    config_text = (DEPLOY / "gateway.yaml").read_text()
    config = config_from(config_text, monkeypatch)
    gw = compose["services"]["s3bridge"]
    assert gw["build"]["dockerfile"] == "deploy/Dockerfile"
    assert set(gw["environment"]) <= known_env(config_text)
    assert env_refs(config_text) <= set(gw["environment"]), "every ${VAR} of the config must be set"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gw["volumes"]}
    assert mounts[f"{CONFIG_DIR}/gateway.yaml"] == "./gateway.yaml"
    assert (DEPLOY / mounts[f"{CONFIG_DIR}/gateway.yaml"]).is_file()
    assert "/data" in mounts
    assert any(p.endswith(f":{config.server.port}") for p in gw["ports"])
    grace = int(str(gw["stop_grace_period"]).rstrip("s"))
    assert grace > config.server.shutdown_timeout
    assert gw["read_only"] is True
    assert any(t.split(":")[0] == "/tmp" for t in gw["tmpfs"]), "a read-only root needs a writable /tmp"
    for service in compose["services"].values():
        assert not service["image"].endswith(":latest") and ":" in service["image"], service["image"]
    app = compose["services"]["app"]
    assert app["depends_on"]["s3bridge"]["condition"] == "service_healthy"
    assert app["environment"]["AWS_ENDPOINT_URL"] == f"http://s3bridge:{config.server.port}"


# -- Kubernetes sidecar --------------------------------------------------------------------------------
def k8s() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / "k8s-sidecar.yaml").read_text())}


def test_k8s_sidecar(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = k8s()
    config_text = docs["ConfigMap"]["data"]["gateway.yaml"]
    config = config_from(config_text, monkeypatch)
    pod = docs["Pod"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    # a native sidecar: an init container that keeps running, started before and stopped after the app
    gw = {c["name"]: c for c in pod["initContainers"]}["s3bridge"]
    assert gw["restartPolicy"] == "Always"
    assert "s3bridge" not in containers
    ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
    assert ports["s3"] == config.server.port
    assert gw["livenessProbe"]["httpGet"]["path"] == LIVE_PATH
    assert gw["readinessProbe"]["httpGet"]["path"] == READY_PATH
    for probe in ("livenessProbe", "readinessProbe"):
        assert gw[probe]["httpGet"]["port"] in ports
    assert gw["resources"]["requests"] and gw["resources"]["limits"]
    env = {e["name"]: e for e in gw["env"]}
    assert set(env) <= known_env(config_text)
    assert env_refs(config_text) <= set(env)
    for name in env_refs(config_text):
        assert "secretKeyRef" in env[name]["valueFrom"], f"{name} must come from a Secret"
    mounts = {m["mountPath"]: m["name"] for m in gw["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts[CONFIG_DIR]]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    roots = {str(s.root) for s in config.backends.values() if s.type == "fs"}
    assert roots <= set(mounts)
    for root in roots:  # the fs data on a claim, not on an emptyDir lost with the pod
        claim = volumes[mounts[root]]["persistentVolumeClaim"]["claimName"]
        assert docs["PersistentVolumeClaim"]["metadata"]["name"] == claim
    assert "LOST" in (DEPLOY / "k8s-sidecar.yaml").read_text()
    assert gw["securityContext"]["readOnlyRootFilesystem"] is True
    assert "emptyDir" in volumes[mounts["/tmp"]], "a read-only root needs a writable /tmp"
    assert pod["terminationGracePeriodSeconds"] > config.server.shutdown_timeout
    assert pod["securityContext"]["runAsNonRoot"] is True
    annotations = docs["Pod"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == METRICS_PATH
    assert int(annotations["prometheus.io/port"]) == config.server.port
    app_env = {e["name"]: e for e in containers["app"]["env"]}
    assert app_env["AWS_ENDPOINT_URL"]["value"] == f"http://127.0.0.1:{config.server.port}"
    assert app_env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == env["S3BRIDGE_SECRET_KEY"]["valueFrom"]


def test_k8s_images_are_pinned() -> None:
    spec = k8s()["Pod"]["spec"]
    for container in spec["initContainers"] + spec["containers"]:
        assert not container["image"].endswith(":latest") and ":" in container["image"], container["image"]
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_k8s_uses_the_image_entrypoint() -> None:
    gw = {c["name"]: c for c in k8s()["Pod"]["spec"]["initContainers"]}["s3bridge"]
    assert "command" not in gw and not gw.get("args")
    comment = next(
        line for line in (DEPLOY / "k8s-sidecar.yaml").read_text().splitlines() if "args: []" in line
    )
    assert shlex.split(comment.split("entrypoint:", 1)[1]) == ENTRYPOINT


def test_configdoc_never_writes_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults read from the environment (the obs backend's OBS_AK/OBS_SK/OBS_SERVER) stay out of
    the reference and the schema, whoever generates them."""
    leaks = {
        "OBS_AK": "LEAKED-ACCESS-KEY",
        "OBS_SK": "LEAKED-SECRET-KEY",
        "OBS_SERVER": "http://leaked.example",
    }
    for name, value in leaks.items():
        monkeypatch.setenv(name, value)
    text = configdoc.render() + configdoc.json_schema()
    for value in leaks.values():
        assert value not in text
    assert (REPO / "docs" / "configuration.md").read_text() == configdoc.render()
    assert os.environ["OBS_AK"] == leaks["OBS_AK"]  # put back after the generator ran
