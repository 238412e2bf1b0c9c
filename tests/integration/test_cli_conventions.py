"""Conventions users expect: `sync --dry-run` is `plan`, -q/-v change only the logs, and the
bash/zsh/fish completion scripts (generated from the parser) complete what the parser takes."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pusher import Pusher
from tests.support.world import cli, push_tags, write_allowlist

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def allowlist(source_registry, target_registry, tmp_path, image_factory):
    push_tags(
        Pusher(source_registry.url), {"bitnami/redis": ["7.2", "7.4"]}, image_factory.multiarch
    )
    return write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images=f"""
            - source: {source_registry.host}/bitnami/redis
              tags: ["7.2", "7.4"]
        """,
    )


def test_sync_dry_run_is_plan_and_changes_nothing(allowlist, target_registry, capsys):
    cfg = str(allowlist)
    code, planned, _ = cli(capsys, "plan", "-c", cfg, "--output", "json")
    code_dry, dry, _ = cli(capsys, "sync", "--dry-run", "-c", cfg, "--output", "json")
    assert (code_dry, json.loads(dry)) == (code, json.loads(planned))
    assert Pusher(target_registry.url).head_manifest("acme/redis", "7.2") is None
    # After a real sync, the dry run has nothing left to do.
    assert cli(capsys, "sync", "-c", cfg)[0] == 0
    code, out, _ = cli(capsys, "sync", "--dry-run", "-c", cfg)
    assert "in sync" in out.lower()


def _imagegate(tmp_path: Path) -> Path:
    """An `imagegate` executable on a PATH of its own (what the scripts call for images)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "imagegate"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH={SRC} exec {sys.executable} -m imagegate "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def _script(shell: str, tmp_path: Path) -> Path:
    out = subprocess.run(
        [sys.executable, "-m", "imagegate", "completion", shell],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    ).stdout
    path = tmp_path / f"imagegate.{shell}"
    path.write_text(out)
    return path


BASH_DRIVER = """
source "$1"; shift
complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _imagegate
    printf '%s\\n' "${COMPREPLY[@]}" | sort | paste -sd' ' -
}
"""


def _bash(script: Path, exe: Path, *words: str) -> str:
    driver = BASH_DRIVER + 'complete_words "$@"\n'
    out = subprocess.run(
        ["bash", "-c", driver, "bash", str(script), str(exe), *words],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_bash_completion_completes_commands_options_values_and_images(tmp_path):
    exe = _imagegate(tmp_path)
    script = _script("bash", tmp_path)
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        "version: 1\ntarget: {registry: localhost:5000, namespace: acme}\nimages:\n"
        '  - {source: bitnami/redis, tags: ["7.2"]}\n  - {source: grafana/loki, tags: ["3.0.0"]}\n'
    )
    assert _bash(script, exe, "pl") == "plan"
    assert _bash(script, exe, "re") == "reject"
    assert _bash(script, exe, "--log-format", "json", "sy") == "sync"  # a global option first
    assert _bash(script, exe, "--log-format", "j") == "json"
    assert _bash(script, exe, "sync", "--dr") == "--dry-run"
    assert _bash(script, exe, "sync", "--q") == "--quiet"  # global options after the command
    assert _bash(script, exe, "plan", "--output", "") == "json markdown text"
    assert _bash(script, exe, "completion", "") == "bash fish zsh"
    assert _bash(script, exe, "history", "--kind", "rolled") == "rolled_back"
    assert _bash(script, exe, "plan", "-c", str(cfg), "") == "bitnami/redis grafana/loki"
    assert _bash(script, exe, "pending", "-c", str(cfg), "bitnami/redis", "gr") == "grafana/loki"
    # The value of an option is not taken for an image.
    assert _bash(script, exe, "history", "--limit", "") == ""


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_are_valid(shell, tmp_path):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (make system-deps installs it)")
    script = _script(shell, tmp_path)
    result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "completion --images" in script.read_text()


def test_fish_completes_commands_and_images(tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (make system-deps installs it)")
    exe = _imagegate(tmp_path)
    script = _script("fish", tmp_path)
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        "version: 1\ntarget: {registry: localhost:5000, namespace: acme}\nimages:\n"
        '  - {source: bitnami/redis, tags: ["7.2"]}\n'
    )

    def complete(line: str) -> list[str]:
        out = subprocess.run(
            ["fish", "--no-config", "-c", f"source {script}; complete -C {line!r}"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PATH": f"{exe.parent}:{os.environ['PATH']}"},
        ).stdout
        return sorted(row.split("\t")[0] for row in out.splitlines())

    assert complete("imagegate pl") == ["plan"]
    assert complete("imagegate sync --dr") == ["--dry-run"]
    assert complete(f"imagegate plan -c {cfg} ") == ["bitnami/redis"]
