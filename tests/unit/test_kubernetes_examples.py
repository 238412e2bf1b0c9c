"""The Kubernetes examples (examples/kubernetes/) hang together: every name one manifest
refers to exists in another, ports match the --listen address, probe paths are endpoints that
docs/watch.md documents, paths given in args and env are mount paths, the image is the one
`make image` builds, the containers run as the image's non-root user on a read-only root
filesystem, and the allowlist in the ConfigMap is valid against `imagegate schema`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "kubernetes"
APP_UID = 65532  # deploy/image/build.sh


def _load_all() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{path.name}: {key} defined twice"
            found[key] = doc
    return found


DOCS = _load_all()


def _one(kind: str) -> dict[str, Any]:
    docs = [d for (k, _), d in DOCS.items() if k == kind]
    assert len(docs) == 1, f"expected one {kind}, found {len(docs)}"
    return docs[0]


def _pod_specs() -> dict[str, dict[str, Any]]:
    cron = _one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    deploy = _one("Deployment")["spec"]["template"]["spec"]
    return {"CronJob": cron, "Deployment": deploy}


def _container(spec: dict[str, Any]) -> dict[str, Any]:
    assert len(spec["containers"]) == 1
    return dict(spec["containers"][0])


def _flag(args: list[str], name: str) -> str:
    """The value of ``--name=value`` or ``--name value`` in ``args``."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name:
            return args[i + 1]
    raise AssertionError(f"{name} not in {args}")


def _mounts(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mount path -> the volume mounted there."""
    volumes = {v["name"]: v for v in spec["volumes"]}
    return {m["mountPath"]: volumes[m["name"]] for m in _container(spec)["volumeMounts"]}


def _volume_at(spec: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    """The deepest mount that holds ``path``: (mount path, volume)."""
    holders = [m for m in _mounts(spec) if path == m or path.startswith(m.rstrip("/") + "/")]
    assert holders, f"{path} is on no mounted volume"
    mount = max(holders, key=len)
    return mount, _mounts(spec)[mount]


def test_every_manifest_is_one_of_the_expected_kinds():
    kinds = sorted(k for k, _ in DOCS)
    assert kinds == [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
    ]


@pytest.mark.parametrize("kind", ["CronJob", "Deployment"])
def test_references_between_manifests_resolve(kind):
    spec = _pod_specs()[kind]
    for volume in spec["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in DOCS
        if "secret" in volume:
            secret = DOCS[("Secret", volume["secret"]["secretName"])]
            for item in volume["secret"].get("items", []):
                assert item["key"] in secret["stringData"]
        if "persistentVolumeClaim" in volume:
            assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in DOCS
    for env in _container(spec)["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in DOCS[("Secret", ref["name"])]["stringData"]


@pytest.mark.parametrize("kind", ["CronJob", "Deployment"])
def test_paths_in_args_and_env_are_on_the_right_volumes(kind):
    spec = _pod_specs()[kind]
    container = _container(spec)
    args = container["args"]
    assert args[0] == ("sync" if kind == "CronJob" else "watch")
    env = {e["name"]: e for e in container["env"]}

    # the allowlist: a file of the ConfigMap, read-only
    config = _flag(args, "--config")
    config_mount, volume = _volume_at(spec, config)
    configmap = DOCS[("ConfigMap", volume["configMap"]["name"])]
    assert config.removeprefix(config_mount + "/") in configmap["data"]

    # the state: on the PersistentVolumeClaim, writable
    state = _flag(args, "--state")
    mount, volume = _volume_at(spec, state)
    assert "persistentVolumeClaim" in volume
    assert not next(m for m in container["volumeMounts"] if m["mountPath"] == mount).get("readOnly")

    # the Docker config: DOCKER_CONFIG is the mounted Secret directory holding config.json
    docker_config = env["DOCKER_CONFIG"]["value"]
    volume = _mounts(spec)[docker_config]
    paths = [i["path"] for i in volume["secret"]["items"]]
    assert paths == ["config.json"]

    text = configmap["data"][config.removeprefix(config_mount + "/")]
    # every ${VAR} the allowlist uses is in the container's environment
    for name in re.findall(r"\$\{(\w+)(?::-[^}]*)?\}", text):
        assert name in env, f"the allowlist uses ${{{name}}}; {kind} does not set it"

    # every ${file:PATH} the allowlist reads is a key of a Secret mounted read-only there
    for path in re.findall(r"\$\{file:([^}]*)\}", text):
        mount, volume = _volume_at(spec, path)
        items = {i["path"]: i["key"] for i in volume["secret"]["items"]}
        key = items[path.removeprefix(mount + "/")]
        assert key in DOCS[("Secret", volume["secret"]["secretName"])]["stringData"]
        assert next(m for m in container["volumeMounts"] if m["mountPath"] == mount)["readOnly"]

    # the image's one writable scratch place
    assert "emptyDir" in _mounts(spec)["/tmp"]


@pytest.mark.parametrize("kind", ["CronJob", "Deployment"])
def test_pods_run_as_the_images_non_root_user_read_only(kind):
    spec = _pod_specs()[kind]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == pod["runAsGroup"] == pod["fsGroup"] == APP_UID
    sc = _container(spec)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert spec["automountServiceAccountToken"] is False


def test_one_writer_for_the_state():
    assert _one("CronJob")["spec"]["concurrencyPolicy"] == "Forbid"
    deploy = _one("Deployment")["spec"]
    assert deploy["replicas"] == 1
    assert deploy["strategy"]["type"] == "Recreate"
    assert _one("PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteOnce"]


def _makefile_image_name() -> str:
    match = re.search(r"^IMAGE_NAME \?= (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert match, "IMAGE_NAME not in the Makefile"
    return match.group(1)


@pytest.mark.parametrize("kind", ["CronJob", "Deployment"])
def test_image_is_the_one_make_image_builds(kind):
    image = _container(_pod_specs()[kind])["image"]
    repository, _, tag = image.rpartition(":")
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert repository.rsplit("/", 1)[-1] == _makefile_image_name()
    assert tag == version  # build.sh tags the image with the wheel's version


def test_ports_and_probes_match_watch_and_its_docs():
    spec = _pod_specs()["Deployment"]
    container = _container(spec)
    host, _, port = _flag(container["args"], "--listen").rpartition(":")
    assert host == "0.0.0.0"  # reachable by the kubelet's probes and by Prometheus
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": int(port)}

    watch_md = (REPO_ROOT / "docs" / "watch.md").read_text()
    documented = set(re.findall(r"^#+ [^`\n]*`GET (/\w+)`", watch_md, re.M))
    assert {"/livez", "/readyz", "/healthz", "/metrics"} <= documented
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in documented, f"{probe} {get['path']} is not in docs/watch.md"
        assert ports[get["port"]] == int(port)
    # liveness must not fail during an upstream outage (a restart loop fixes nothing)
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # a run in flight may finish (watch --grace, 30 s by default) before the pod is killed
    assert spec["terminationGracePeriodSeconds"] > 30

    service = _one("Service")
    labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert _one("Deployment")["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    [svc_port] = service["spec"]["ports"]
    assert svc_port["targetPort"] == "metrics"
    assert svc_port["port"] == int(port)
    assert service["metadata"]["annotations"]["prometheus.io/port"] == port


def test_allowlist_in_the_configmap_is_valid_against_the_schema():
    schema = json.loads(
        subprocess.run(
            [sys.executable, "-m", "imagegate", "schema"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    for text in DOCS[("ConfigMap", "imagegate-allowlist")]["data"].values():
        jsonschema.validate(yaml.safe_load(text), schema)
