"""The container image that ``make image`` builds (an OCI image layout), tested as a registry
and a container runtime would use it:

- its configuration: non-root user, ``imagegate`` as entry point, no caches or package lists;
- pushed from the layout to a real registry, then copied to a second registry by the image's
  OWN ``imagegate copy`` (imagegate does not read OCI layouts, so the first push is the test
  helper's), and read back digest-exact: manifest bytes, config and every layer;
- run from its unpacked root filesystem, mounted read-only as Kubernetes'
  ``readOnlyRootFilesystem`` does, with a tmpfs on /tmp and a writable state directory, as
  uid 65532: ``imagegate --version`` and a sync between two real registries.

Run by ``make image-test`` (which builds the image first and sets ``IMAGE_LAYOUT`` and
``IMAGE_TAG``); needs root for ``umoci unpack``, mount namespaces and chroot. Skipped otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.layout import OciLayout, check_served, load_layout, push_layout
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYOUT = os.environ.get("IMAGE_LAYOUT", "")
TAG = os.environ.get("IMAGE_TAG", "")
STATE_DIR = "/var/lib/imagegate"  # the image's writable directory (a volume in Kubernetes)
APP_UID = 65532
_HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = [
    pytest.mark.skipif(
        not LAYOUT or not TAG, reason="container image test: run by `make image-test`"
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (umoci unpack, mounts, chroot)"),
]


@dataclass(frozen=True)
class Image:
    layout: OciLayout
    digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    rootfs: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.config["config"]["Env"])

    @property
    def entrypoint(self) -> list[str]:
        return list(self.config["config"]["Entrypoint"])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    layout = load_layout(Path(LAYOUT))
    entry = layout.entry(TAG)
    manifest = json.loads(layout.blob(entry.digest))
    config = json.loads(layout.blob(manifest["config"]["digest"]))
    bundle = tmp_path_factory.mktemp("image") / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{LAYOUT}:{TAG}", str(bundle)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    yield Image(layout, entry.digest, manifest, config, bundle / "rootfs")
    shutil.rmtree(bundle, ignore_errors=True)


def in_image(image: Image, state_dir: Path, *args: str) -> list[str]:
    """The command that runs the image's entry point with ``args`` as a container runtime
    would: its root filesystem read-only (its own mount namespace), /dev and /proc from the
    host, a tmpfs on /tmp, ``state_dir`` mounted on /var/lib/imagegate, the image's user.
    Run it with the image's environment (``image.env``). The network is the host's, so
    loopback registries are reachable. Every step execs, so its pid is imagegate's."""
    user = image.config["config"]["User"]
    script = """
        set -e
        mount=$1 chroot=$2 root=$3 state=$4 user=$5; shift 5
        "$mount" --bind "$root" "$root"
        "$mount" -o remount,bind,ro "$root"
        "$mount" --rbind /dev "$root/dev"
        "$mount" -t proc proc "$root/proc"
        "$mount" -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
        "$mount" --bind "$state" "$root/var/lib/imagegate"
        exec "$chroot" --userspec="$user" "$root" "$@"
    """
    return [
        "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
        "run-in-image", _host_tool("mount"), _host_tool("chroot"), str(image.rootfs),
        str(state_dir), user, *image.entrypoint, *args,
    ]  # fmt: skip


def run_in_image(
    image: Image, state_dir: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        in_image(image, state_dir, *args),
        env=image.env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _host_tool(name: str) -> str:
    found = shutil.which(name, path=_HOST_PATH)
    assert found, f"{name} is not installed on this machine"
    return found


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A writable directory owned by the image's user (what a volume provides)."""
    path = tmp_path / "state"
    path.mkdir()
    os.chown(path, APP_UID, APP_UID)
    return path


def _version() -> str:
    return str(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_image_config_runs_imagegate_as_non_root(image):
    cfg = image.config["config"]
    assert image.config["os"] == "linux"
    assert cfg["User"] == f"{APP_UID}:{APP_UID}"
    assert image.entrypoint == ["/usr/local/bin/imagegate"]
    assert image.env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert image.env["XDG_STATE_HOME"] + "/imagegate" == STATE_DIR
    assert cfg["WorkingDir"] == STATE_DIR
    assert cfg["Labels"]["org.opencontainers.image.version"] == _version()
    assert TAG == _version()
    assert len(image.manifest["layers"]) == 2  # Debian base, then imagegate

    rootfs = image.rootfs
    passwd = (rootfs / "etc/passwd").read_text().splitlines()
    assert any(line.split(":")[2:4] == [str(APP_UID)] * 2 for line in passwd)
    state = (rootfs / STATE_DIR.lstrip("/")).stat()
    assert (state.st_uid, state.st_gid) == (APP_UID, APP_UID)
    # the user owns nothing else: the program cannot be changed by what it runs
    owned = [p for p in rootfs.rglob("*") if not p.is_symlink() and p.lstat().st_uid == APP_UID]
    assert sorted(str(p.relative_to(rootfs)) for p in owned) == [
        "home/imagegate",
        STATE_DIR.lstrip("/"),
    ]


def test_image_is_small_and_holds_no_caches(image):
    rootfs = image.rootfs
    assert not list((rootfs / "var/lib/apt/lists").glob("*Packages*"))
    assert not list((rootfs / "var/cache/apt").glob("*.bin"))
    assert not list((rootfs / "usr/share/man").glob("*"))
    docs = [p for p in (rootfs / "usr/share/doc").rglob("*") if p.is_file()]
    assert docs and all(p.name == "copyright" for p in docs)  # licences stay, docs go
    assert not list(rootfs.glob("usr/lib/python3*/**/pip/__init__.py"))  # no pip in the image
    site = rootfs / "usr/local/lib/python3.11/dist-packages"
    assert (site / "imagegate" / "py.typed").is_file()
    assert list((site / "imagegate" / "__pycache__").glob("*.cpython-311.pyc"))
    assert not (site / "bin").exists()
    assert not list((rootfs / "dev").iterdir())  # the runtime mounts /dev
    compressed = sum(d["size"] for d in image.manifest["layers"])
    # a generous ceiling that catches an accidental toolchain or perl (about 46 MB today)
    assert compressed < 80 * 1024 * 1024, compressed


def test_extension_modules_are_stripped_and_each_still_loads(image):
    """The wheels' compiled modules lose their debug symbols at build time (a smaller pull);
    every one of them still imports in the image, as its user."""
    site = image.rootfs / "usr/local/lib/python3.11/dist-packages"
    found = sorted(site.rglob("*.so"))
    assert any(p.name.startswith("_rust.") for p in found)  # cryptography's, the largest
    readelf = _host_tool("readelf")
    for path in found:  # no debug sections left (the section table, not the bytes)
        sections = subprocess.run(
            [readelf, "-S", "-W", str(path)], capture_output=True, text=True, check=True
        ).stdout
        assert ".debug_" not in sections, path
    modules = [
        ".".join([*path.parent.relative_to(site).parts, path.name.split(".")[0]]) for path in found
    ]
    script = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    got = subprocess.run(
        [_host_tool("chroot"), f"--userspec={image.config['config']['User']}",
         str(image.rootfs), "/usr/bin/python3", "-c", script, *modules],
        capture_output=True, text=True, timeout=60, check=False, env=image.env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr


def test_version_in_read_only_root_filesystem(image, state_dir):
    got = run_in_image(image, state_dir, "--version")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == f"imagegate {TAG}"
    # the process runs as the image's user, and that user cannot write the root filesystem
    who = subprocess.run(
        [_host_tool("chroot"), f"--userspec={image.config['config']['User']}",
         str(image.rootfs), "/bin/sh", "-c",
         "id -u; touch /usr/local/bin/x 2>/dev/null || echo ro"],
        capture_output=True, text=True, timeout=60, check=True, env=image.env,
    )  # fmt: skip
    assert who.stdout.split() == [str(APP_UID), "ro"]


def _blob_digest(pusher: Pusher, repo: str, digest: str) -> str:
    return "sha256:" + hashlib.sha256(pusher.get_blob(repo, digest)).hexdigest()


def test_pushed_then_copied_by_its_own_imagegate_digest_exact(
    image, state_dir, registry_pool, tmp_path
):
    build: RegistryServer = registry_pool.start(name="build")
    publish: RegistryServer = registry_pool.start(name="publish")
    try:
        # the layout -> the "build" registry (test helper: imagegate does not read layouts)
        pushed = push_layout(Pusher(build.url), "ci/imagegate", image.layout, strict=True)
        assert [r.digest for r in pushed] == [image.digest]
        assert check_served(Pusher(build.url), "ci/imagegate", image.layout, pushed) == []

        # "build" -> "publish" with the image's own imagegate, running in the image
        got = run_in_image(
            image, state_dir, "copy", f"{build.host}/ci/imagegate:{TAG}",
            f"{publish.host}/platform/imagegate", "--output", "json",
        )  # fmt: skip
        assert got.returncode == 0, got.stderr
        result = json.loads(got.stdout)
        assert result["digest"] == image.digest and result["tagged"] is True
        assert result["target"].endswith(f"/platform/imagegate:{TAG}")

        # read back digest-exact: manifest bytes, config and every layer
        out = Pusher(publish.url)
        served = out.get_manifest("platform/imagegate", TAG)
        assert served.data == image.layout.blob(image.digest)
        assert served.digest == image.digest
        for desc in [image.manifest["config"], *image.manifest["layers"]]:
            assert _blob_digest(out, "platform/imagegate", desc["digest"]) == desc["digest"]
    finally:
        registry_pool.stop(build)
        registry_pool.stop(publish)


def test_sync_between_two_registries_inside_the_image(
    image, state_dir, source_registry, target_registry, image_factory
):
    upstream = image_factory.multiarch()
    Pusher(source_registry.url).push_image("upstream/app", "1.0", upstream)
    (state_dir / "imagegate.yaml").write_text(
        f"version: 1\ntarget:\n  registry: {target_registry.host}\n  namespace: mirror\n"
        f"state: {STATE_DIR}/state.db\n"
        f"images:\n  - source: {source_registry.host}/upstream/app\n    tags: ['1.0']\n"
    )
    got = run_in_image(
        image, state_dir, "sync", "-c", f"{STATE_DIR}/imagegate.yaml", "--output", "json"
    )
    assert got.returncode == 0, got.stderr
    summary = json.loads(got.stdout)
    assert summary["copied"] == 1 and summary["failed"] == 0
    Pusher(target_registry.url).assert_image("mirror/app", "1.0", upstream)
    db = state_dir / "state.db"
    assert db.is_file() and db.stat().st_uid == APP_UID  # written as the image's user

    again = run_in_image(
        image, state_dir, "sync", "-c", f"{STATE_DIR}/imagegate.yaml", "--output", "json"
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["copied"] == 0


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_watch_serves_the_probe_endpoints_inside_the_image(
    image, state_dir, source_registry, target_registry, image_factory
):
    """The Deployment's mode: `watch` in the read-only image serves /healthz and /metrics
    (the probe paths of examples/kubernetes/deployment.yaml), and SIGTERM stops it (exit 0)."""
    upstream = image_factory.multiarch()
    Pusher(source_registry.url).push_image("upstream/app", "1.0", upstream)
    (state_dir / "imagegate.yaml").write_text(
        f"version: 1\ntarget:\n  registry: {target_registry.host}\n  namespace: mirror\n"
        f"images:\n  - source: {source_registry.host}/upstream/app\n    tags: ['1.0']\n"
        "schedule: {every: 1h}\n"
    )
    proc = subprocess.Popen(
        in_image(image, state_dir, "watch", "-c", f"{STATE_DIR}/imagegate.yaml",
                 "--state", f"{STATE_DIR}/state.db", "--listen", "127.0.0.1:0",
                 "--log-format", "json"),
        env=image.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:  # ends at EOF if watch exits: no endless wait
            if "watch started" in line:
                url = json.loads(line)["url"].rstrip("/")
                break
        assert url, f"watch exited with {proc.wait(timeout=30)} before it started listening"
        deadline = time.monotonic() + 120  # only catches a hang: the first run is one small copy
        while time.monotonic() < deadline:
            status, body = _get(f"{url}/healthz")
            if status == 200 and json.loads(body)["last_run"]:
                break
            time.sleep(0.1)
        assert status == 200, body
        assert json.loads(body)["last_run"]["result"] == "success"
        status, metrics = _get(f"{url}/metrics")
        assert status == 200
        runs = re.search(r'^imagegate_runs_total\{result="success"\} (\S+)$', metrics, re.M)
        assert runs and float(runs.group(1)) == 1, metrics
        Pusher(target_registry.url).assert_image("mirror/app", "1.0", upstream)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
