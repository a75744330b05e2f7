"""deploy/Dockerfile built and run, not only parsed: podman builds the image (on a Debian stand-in for
the pinned base, tests/helpers/image.py), then runs it twice, as compose.yaml and as k8s-sidecar.yaml
say: read-only root the way Docker makes one (podman's own automatic /tmp tmpfs turned off), the
writable /tmp each file gives, dropped capabilities, the manifest's user and volumes. Through each run:
boto3 PUT/GET and a multipart upload with a part of unknown size (HTTP chunked: the s3 backend spools it
to /tmp), the image's HEALTHCHECK command, and SIGTERM in the middle of an upload, which must still
complete and be stored. Containers use the host's network namespace and listen on 127.0.0.1 only.

Skipped, saying why, only where podman, runc or debootstrap is missing (.ci/run installs them)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from backends.fs.keys import key_components
from gateway.observability import LIVE_PATH
from tests.helpers import image
from tests.helpers.clients import boto3_client
from tests.helpers.deploy import DEPLOY
from tests.helpers.procs import ServerProcess, free_port, moto_server
from tests.helpers.rawhttp import connect, head_block, read_response, sign

pytestmark = pytest.mark.slow

KEYS = ("image-key", "image-secret-0123456789abcdef")
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> str:
    missing = image.missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs them from Debian's packages)")
    started = time.monotonic()
    tag = image.build(tmp_path_factory.mktemp("build"))
    print(f"image built in {time.monotonic() - started:.1f}s")
    return tag


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


class Container:
    """One ``podman run -d`` of the image; removed at the end whatever happened."""

    def __init__(self, tag: str, port: int, flags: list[str]):
        self.name = f"s3bridge-test-{uuid.uuid4().hex[:10]}"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        env = [f"--env=S3BRIDGE_ACCESS_KEY={KEYS[0]}", f"--env=S3BRIDGE_SECRET_KEY={KEYS[1]}"]
        # the entrypoint's --host 0.0.0.0, then ours: on the host's network, listen on loopback only
        image.podman(
            "run", "-d", "--name", self.name, "--network=host", *env, *flags, tag, "--host", "127.0.0.1"
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + LIVE_PATH, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"container not live: {self.logs()}")

    def logs(self) -> str:
        return image.podman("logs", self.name, check=False).stderr[-4000:]

    def healthcheck(self) -> tuple[int, str]:
        """The image's HEALTHCHECK command, run inside the container as Docker would: exit status, why."""
        result = image.podman("healthcheck", "run", self.name, check=False)
        return result.returncode, result.stdout + result.stderr

    def remove(self) -> None:
        image.podman("rm", "-f", "-t", "0", self.name, check=False)


def config_file(where: Path, text: str, port: int, backends: dict[str, Any] | None = None) -> Path:
    """The manifest's gateway.yaml on a free port (the containers share the host's network)."""
    doc = yaml.safe_load(text)
    doc["server"]["port"] = port
    if backends is not None:
        doc["backends"] = backends
    where.mkdir(parents=True, exist_ok=True)
    (where / "gateway.yaml").write_text(yaml.safe_dump(doc))
    return where


def writable_by(path: Path, uid: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, uid)
    return path


def unsized_request(url: str, method: str, target: str, body: bytes, pause_after: int = 0) -> Any:
    """``method target`` with an HTTP-chunked body of unknown size (UNSIGNED-PAYLOAD): ``(sock,
    finish)``, where ``finish()`` sends the rest from ``pause_after`` and reads the answer."""
    headers = sign(url, method, target, KEYS, {"Transfer-Encoding": "chunked"})
    sock = connect(int(url.rsplit(":", 1)[1]), timeout=60)
    sock.sendall(head_block(method, target, headers))

    def send(data: bytes) -> None:
        for i in range(0, len(data), 64 * 1024):
            piece = data[i : i + 64 * 1024]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")

    send(body[:pause_after])

    def finish() -> Any:
        try:
            send(body[pause_after:])
            sock.sendall(b"0\r\n\r\n")
            return read_response(sock)
        finally:
            sock.close()

    return finish


def smoke(url: str, bucket: str) -> dict[str, bytes]:
    """PUT/GET and a multipart upload whose second part has no declared size; what was stored."""
    s3 = boto3_client(url, KEYS)
    s3.create_bucket(Bucket=bucket)
    small = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="small.bin", Body=small)
    assert s3.get_object(Bucket=bucket, Key="small.bin")["Body"].read() == small
    parts = [os.urandom(5 * MiB), os.urandom(3 * MiB + 12345)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi.bin")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="multi.bin", UploadId=upload, PartNumber=1, Body=parts[0])
    answer = unsized_request(url, "PUT", f"/{bucket}/multi.bin?partNumber=2&uploadId={upload}", parts[1])()
    assert answer.status == 200, answer
    etags = [first["ETag"], answer.headers["etag"]]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="multi.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
    )
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="multi.bin")["Body"].read() == whole
    return {"small.bin": small, "multi.bin": whole}


def sigterm_mid_upload(container: Container, bucket: str) -> bytes:
    """An unsized PUT half sent, SIGTERM, the other half: it completes; the container then exits 0."""
    body = os.urandom(4 * MiB)
    finish = unsized_request(container.url, "PUT", f"/{bucket}/during-sigterm.bin", body, 2 * MiB)
    time.sleep(0.3)
    image.podman("kill", "--signal", "TERM", container.name)
    time.sleep(1.0)  # the gateway is shutting down now, the upload still in flight
    answer = finish()
    assert answer.status == 200, answer
    exit_code = image.podman("wait", container.name, timeout=60).stdout.strip()
    assert exit_code == "0", container.logs()
    return body


def test_image_with_compose_settings(built: str, moto: ServerProcess, tmp_path: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["s3bridge"]
    assert compose["read_only"] is True
    port = free_port()
    remote = {
        "remote": {
            "type": "s3",
            "endpoint": moto.url,
            "access_key": "moto",
            "secret_key": "moto-secret",
            "meta_bucket": "s3bridge-meta",
        }
    }
    config = config_file(tmp_path / "etc", (DEPLOY / "gateway.yaml").read_text(), port, remote)
    flags = ["--read-only", "--read-only-tmpfs=false"]  # the root as Docker makes it: no /tmp at all
    flags += [f"--tmpfs={t}" for t in compose["tmpfs"]]
    flags += [f"--cap-drop={c}" for c in compose["cap_drop"]]
    flags += [f"--security-opt={o.replace(':true', '')}" for o in compose["security_opt"]]
    flags += [f"--volume={config}/gateway.yaml:/etc/s3bridge/gateway.yaml:ro"]
    flags += [f"--volume={writable_by(tmp_path / 'data', 10001)}:/data"]
    flags += [f"--stop-timeout={int(str(compose['stop_grace_period']).rstrip('s'))}"]
    container = Container(built, port, flags)
    try:
        assert container.healthcheck()[0] == 0, container.healthcheck()
        stored = smoke(container.url, "compose-bucket")
        stored["during-sigterm.bin"] = sigterm_mid_upload(container, "compose-bucket")
        moto_s3 = boto3_client(moto.url, ("moto", "moto-secret"))
        for key, body in stored.items():  # every byte in the store behind the gateway
            assert moto_s3.get_object(Bucket="compose-bucket", Key=key)["Body"].read() == body, key
        assert container.healthcheck()[0] != 0  # stopped: the probe says so
    finally:
        container.remove()


def test_image_with_k8s_settings(built: str, tmp_path: Path) -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "k8s-sidecar.yaml").read_text())}
    pod = docs["Pod"]["spec"]
    (gw,) = [c for c in pod["initContainers"] if c["name"] == "s3bridge"]
    user, group = pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
    sc = gw["securityContext"]
    port = free_port()
    config = config_file(tmp_path / "configmap", docs["ConfigMap"]["data"]["gateway.yaml"], port)
    volumes = {v["name"]: v for v in pod["volumes"]}
    flags = [f"--user={user}:{group}", "--read-only-tmpfs=false"]
    if sc["readOnlyRootFilesystem"]:
        flags.append("--read-only")
    flags += [f"--cap-drop={c}" for c in sc["capabilities"]["drop"]]
    if sc["allowPrivilegeEscalation"] is False:
        flags.append("--security-opt=no-new-privileges")
    sources = {
        "configMap": lambda name: config,
        "persistentVolumeClaim": lambda name: writable_by(tmp_path / name, user),  # fsGroup's effect
        "emptyDir": lambda name: writable_by(tmp_path / name, user),
    }
    for mount in gw["volumeMounts"]:
        volume = volumes[mount["name"]]
        (kind,) = [k for k in sources if k in volume]
        mode = ":ro" if mount.get("readOnly") else ""
        flags.append(f"--volume={sources[kind](mount['name'])}:{mount['mountPath']}{mode}")
    container = Container(built, port, flags)
    try:
        assert container.healthcheck()[0] == 0, container.healthcheck()
        stored = smoke(container.url, "k8s-bucket")
        stored["during-sigterm.bin"] = sigterm_mid_upload(container, "k8s-bucket")
        data = tmp_path / "data" / "k8s-bucket"
        for key, body in stored.items():  # on the claim, as the gateway's user wrote it
            path = data.joinpath(*key_components(key))
            assert path.read_bytes()[: len(body)] == body, key
            assert path.stat().st_uid == user
        inspect = json.loads(image.podman("inspect", container.name).stdout)[0]
        assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    finally:
        container.remove()
