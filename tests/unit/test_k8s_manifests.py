"""The Kubernetes files as a cluster would take them: the Helm chart (deploy/helm/s3bridge) rendered with
its default values and with each values file of its ci/ folder, and the plain manifest
deploy/k8s-sidecar.yaml, every object validated against the Kubernetes API schemas
(kubernetes-validate, strict: an unknown field is an error) of the oldest version the files claim and
of the newest; then what the schemas cannot say (the gateway configuration inside, ports, secrets, the
writable /tmp, pinned images).

Rendering uses helm-python-sdk, Helm's own engine (libhelm) in a wheel: the `helm` binary is not in
Debian's packages. Both come with the `test` extra; nothing is installed here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.helpers.deploy import DEPLOY
from tests.unit.test_docs_config import config_from, env_refs

CHART = DEPLOY / "helm" / "s3bridge"
#: The chart's kubeVersion floor (native sidecars need 1.29) and the newest schemas we have.
KUBE_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
#: Custom resources: no schema in kubernetes-validate; checked field by field below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
VALUES_FILES = sorted((CHART / "ci").glob("*.yaml"))


def render(values_file: Path | None) -> list[dict[str, Any]]:
    values = yaml.safe_load(values_file.read_text()) if values_file else None
    rendered = helm_python.Chart.load(CHART).render(values, name="gw", namespace="storage")
    docs = []
    for name, text in sorted(rendered.items()):
        if name.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def validate(doc: dict[str, Any]) -> None:
    if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
        return
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = {d["kind"]: d for d in docs}
    assert len(kinds) == len(docs), "one object of each kind"
    return kinds


CASES = [None, *VALUES_FILES]
IDS = ["default", *(p.stem for p in VALUES_FILES)]


def test_two_more_values_files() -> None:
    assert len(VALUES_FILES) >= 2


@pytest.mark.parametrize("values_file", CASES, ids=IDS)
def test_chart_renders_valid_objects(values_file: Path | None) -> None:
    docs = render(values_file)
    assert docs
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("values_file", CASES, ids=IDS)
def test_chart_runs_the_gateway_as_configured(
    values_file: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = helm_python.Chart.load(CHART).merge_values(
        yaml.safe_load(values_file.read_text()) if values_file else None
    )
    kinds = by_kind(render(values_file))
    config_text = kinds["ConfigMap"]["data"]["gateway.yaml"]
    config = config_from(config_text, monkeypatch)  # the gateway's own validation of its file
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == values["replicaCount"]
    pod = deployment["spec"]["template"]["spec"]
    (gw,) = pod["containers"]
    assert not gw["image"].endswith(":latest") and gw["imagePullPolicy"] == "IfNotPresent"
    ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
    assert ports["s3"] == config.server.port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert gw[probe]["httpGet"]["port"] in ports
    env = {e["name"]: e for e in gw["env"]}
    for name in env_refs(config_text):  # every ${NAME} of the config is set, and from a Secret
        assert "secretKeyRef" in env[name]["valueFrom"], name
    assert pod["terminationGracePeriodSeconds"] > config.server.shutdown_timeout
    assert gw["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in gw["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a read-only root needs a writable /tmp"
    roots = {str(s.root) for s in config.backends.values() if s.type == "fs"}
    for root in roots:
        data = volumes[mounts[root]]
        if values["persistence"]["enabled"]:
            claim = data["persistentVolumeClaim"]["claimName"]
            if not values["persistence"]["existingClaim"]:
                assert kinds["PersistentVolumeClaim"]["metadata"]["name"] == claim
        else:
            assert "emptyDir" in data
    service = kinds["Service"]
    assert service["spec"]["selector"].items() <= pod_labels(deployment).items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["s3"]
    monitor = kinds.get("ServiceMonitor")
    assert (monitor is not None) is values["serviceMonitor"]["enabled"]
    if monitor is not None:
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == "s3" and endpoint["path"] == "/_s3bridge/metrics"


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_chart_lints_clean() -> None:
    for values_file in CASES:  # helm lint --strict: warnings are errors (severity 2 warning, 3 error)
        values = yaml.safe_load(values_file.read_text()) if values_file else None
        report = helm_python.lint(CHART, values, strict=True, kube_version="v1.29.0")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not report["errors"] and not problems, (values_file, report)


def test_chart_says_emptydir_data_is_lost() -> None:
    kinds = by_kind(render(None))
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["persistence"]["enabled"] is True, "data on a claim unless the operator says otherwise"
    rendered = helm_python.Chart.load(CHART).render({"persistence": {"enabled": False}}, name="gw")
    assert "LOST" in rendered["s3bridge/templates/NOTES.txt"]
    assert "PersistentVolumeClaim" in kinds


def test_plain_manifests_are_valid() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s-sidecar.yaml").read_text()) if d]
    assert {d["kind"] for d in docs} == {"ConfigMap", "PersistentVolumeClaim", "Pod"}
    for doc in docs:
        validate(doc)
