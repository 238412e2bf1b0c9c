"""The two tools under test, driven the way a user would: allowlist/YAML file + one command."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.procs import ProcResult, run_timed

NAMESPACE = "mirror"  # both tools mirror <src>/team1/app01 to <dst>/mirror/app01


def skopeo_binary() -> str:
    found = shutil.which("skopeo")
    if found is None:
        raise RuntimeError("skopeo is not installed: apt-get install skopeo (or run `make bench`)")
    return found


# -- imagegate ---------------------------------------------------------------------------------
def imagegate_config(
    path: Path, *, source: str, target: str, tags: Mapping[str, Sequence[str]], state: Path
) -> Path:
    """An allowlist mirroring ``source``/repo:tags into ``target``/mirror/<last path part>."""
    lines = [
        "version: 1",
        "target:",
        f"  registry: {target}",
        f"  namespace: {NAMESPACE}",
        f"state: {state}",
        "registries:",
        f'  "{source}": {{insecure: true}}',
        f'  "{target}": {{insecure: true}}',
        "images:",
    ]
    for repo, names in sorted(tags.items()):
        lines.append(f"  - source: {source}/{repo}")
        lines.append(f"    tags: {json.dumps(list(names))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def imagegate(*args: str) -> list[str]:
    return [sys.executable, "-m", "imagegate", *args]


def imagegate_sync(config: Path) -> tuple[ProcResult, dict[str, object]]:
    res = run_timed(imagegate("sync", "-c", str(config), "--output", "json")).check()
    return res, json.loads(res.stdout)


def imagegate_copy(src: str, dst: str) -> ProcResult:
    return run_timed(imagegate("copy", "--output", "json", src, dst)).check()


# -- skopeo ------------------------------------------------------------------------------------
def skopeo_yaml(path: Path, *, source: str, tags: Mapping[str, Sequence[str]]) -> Path:
    lines = [f'"{source}":', "  tls-verify: false", "  images:"]
    for repo, names in sorted(tags.items()):
        lines.append(f"    {repo}: {json.dumps(list(names))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def skopeo_sync(yaml_file: Path, target: str) -> ProcResult:
    return run_timed(
        [
            skopeo_binary(),
            "sync",
            "--all",
            "--preserve-digests",
            "--src",
            "yaml",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            str(yaml_file),
            f"{target}/{NAMESPACE}",
        ]
    ).check()


def skopeo_copy(src: str, dst: str) -> ProcResult:
    return run_timed(
        [
            skopeo_binary(),
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{src}",
            f"docker://{dst}",
        ]
    ).check()
