"""The built sdist and wheel: what they contain, and the wheel installed into a clean virtual
environment outside the checkout gives a working ``imagegate`` with only its runtime
dependencies (``--version``, then a sync between two real registries).

Run by ``make smoke-wheel``, which builds ``dist/`` first and points ``SMOKE_DIST`` at it
(pip reaches PyPI for the dependencies). Without ``SMOKE_DIST`` the module is skipped, so
``make test`` stays offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.pusher import Pusher

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src" / "imagegate"
DIST = os.environ.get("SMOKE_DIST", "")

pytestmark = pytest.mark.skipif(
    not DIST, reason="packaging smoke test: run by `make smoke-wheel` (SMOKE_DIST=dist dir)"
)


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _version() -> str:
    return str(_pyproject()["project"]["version"])


def _one(pattern: str) -> Path:
    found = sorted(Path(DIST).glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {DIST}, found {found}"
    return found[0]


def _package_files() -> set[str]:
    """Every file of the package in the checkout, as wheel paths (imagegate/...)."""
    return {
        str(p.relative_to(SRC.parent))
        for p in SRC.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _requirement_name(requirement: str) -> str:
    name = requirement.split(";", maxsplit=1)[0].strip()
    for sep in "<>=!~[ (":
        name = name.split(sep)[0]
    return name.lower().replace("_", "-")


def test_wheel_holds_the_whole_package_typed_and_its_metadata():
    wheel = _one(f"imagegate-{_version()}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = f"imagegate-{_version()}.dist-info"
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()

    assert "imagegate/py.typed" in names
    # every module and data file of the checkout (a subpackage without __init__.py, or a
    # data file that package-data does not list, would be missing here)
    missing = sorted(_package_files() - names)
    assert missing == [], f"not in the wheel: {missing}"
    assert not [n for n in names if n.startswith(("tests/", "bench/", "demo/"))]

    runtime = {_requirement_name(r) for r in _pyproject()["project"]["dependencies"]}
    requires = [
        line.removeprefix("Requires-Dist:").strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    unconditional = {_requirement_name(r) for r in requires if "extra ==" not in r}
    assert unconditional == runtime
    assert "imagegate = imagegate.cli.main:entry" in entry_points
    assert "Requires-Python: >=3.11" in metadata


def test_sdist_holds_the_sources_and_build_metadata():
    sdist = _one(f"imagegate-{_version()}.tar.gz")
    prefix = f"imagegate-{_version()}/"
    with tarfile.open(sdist) as tf:
        names = {n.removeprefix(prefix) for n in tf.getnames()}
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= names
    missing = sorted(f"src/{f}" for f in _package_files() if f"src/{f}" not in names)
    assert missing == [], f"not in the sdist: {missing}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment outside the checkout with only the wheel (and what it needs)."""
    wheel = _one(f"imagegate-{_version()}-py3-none-any.whl")
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         str(wheel)],
        check=True, timeout=240, env=_clean_env(), cwd=venv.parent,
    )  # fmt: skip
    return venv


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that would find the checkout's sources."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        check=False, capture_output=True, text=True, timeout=120, env=_clean_env(),
        cwd=venv.parent,
    )  # fmt: skip


def test_installed_wheel_has_only_runtime_dependencies(installed):
    listed = _run(installed, "pip", "list", "--format", "json", "--disable-pip-version-check")
    assert listed.returncode == 0, listed.stderr
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert {"imagegate", "aiohttp", "pyyaml"} <= names
    test_only = {
        _requirement_name(r) for r in _pyproject()["project"]["optional-dependencies"]["test"]
    }
    leaked = sorted(test_only & names)
    assert leaked == [], f"test-only packages installed with the wheel: {leaked}"

    where = _run(installed, "python", "-c", "import imagegate; print(imagegate.__file__)")
    assert where.returncode == 0, where.stderr
    module = Path(where.stdout.strip()).resolve()
    assert installed.resolve() in module.parents, f"imported {module}, not the installed wheel"
    assert (module.parent / "py.typed").is_file()


def test_installed_wheel_runs_a_sync_between_two_registries(
    installed, source_registry, target_registry, image_factory, tmp_path
):
    version = _run(installed, "imagegate", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"imagegate {_version()}"

    image = image_factory.multiarch()
    Pusher(source_registry.url).push_image("upstream/app", "1.0", image)
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        f"version: 1\ntarget:\n  registry: {target_registry.host}\n  namespace: mirror\n"
        f"state: {tmp_path / 'state.db'}\n"
        f"images:\n  - source: {source_registry.host}/upstream/app\n    tags: ['1.0']\n"
    )
    sync = _run(installed, "imagegate", "sync", "-c", str(cfg), "--output", "json")
    assert sync.returncode == 0, sync.stderr
    summary = json.loads(sync.stdout)
    assert summary["copied"] == 1 and summary["failed"] == 0
    Pusher(target_registry.url).assert_image("mirror/app", "1.0", image)
    assert (tmp_path / "state.db").is_file()
