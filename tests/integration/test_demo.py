"""`make demo` (``python -m demo``) end to end in a subprocess: its story, its numbers, and
that it leaves no registry running, also when interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from demo.report import parse_sync_output

from tests.support.registry_server import REGISTRY_BINARY

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT = 180  # seconds; the demo takes about 12 on an idle 2-core machine

pytestmark = pytest.mark.skipif(
    not os.access(REGISTRY_BINARY, os.X_OK), reason=f"{REGISTRY_BINARY} is not installed"
)


def _demo_command(workdir: Path) -> list[str]:
    return [sys.executable, "-m", "demo", "--dir", str(workdir)]


def _env(tmp_path: Path) -> dict[str, str]:
    # TMPDIR puts the registries' temporary storage under tmp_path, where we can look for it.
    return {**os.environ, "TMPDIR": str(tmp_path)}


def _registry_pids_mentioning(text: str) -> list[int]:
    """Live docker-registry processes whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "docker-registry" in cmdline and text in cmdline:
            found.append(int(proc.name))
    return found


def _assert_nothing_left(tmp_path: Path, output: str, registries: int = 3) -> None:
    """``registries`` started: the Hub stand-in, the org registry, then Hub's registry of the
    organization's job."""
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", output)]
    assert len(pids) == registries, output
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline")
        assert not cmdline.exists() or b"docker-registry" not in cmdline.read_bytes()
    assert _registry_pids_mentioning(str(tmp_path)) == []
    assert list(tmp_path.glob("imagegate-demo-*")) == [], "registry storage was not removed"


def test_demo_tells_the_whole_story_and_leaves_nothing_running(tmp_path):
    workdir = tmp_path / "demo"
    proc = subprocess.run(
        _demo_command(workdir),
        cwd=REPO_ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    out = proc.stdout
    # no bound on its wall time here (a loaded CI machine may be slow): DEMO_TIMEOUT catches a
    # hang, and docs/benchmarks.md measures the speed
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-3000:]

    # The real CLI, each command shown before its output, in this order.
    commands = re.findall(r"^\$ imagegate (\w+)", out, flags=re.MULTILINE)
    registry_side = ["plan", "sync", "status", "plan", "plan", "sync", "history"]
    org_job = ["sync", "approve", "sync", "sync", "approve", "sync"]
    assert commands == registry_side + org_job
    assert f"-c {workdir / 'imagegate.yaml'}" in out
    assert "(exit code 2)" in out  # plan --detailed-exitcode before the first sync
    assert "Everything is in sync" in out  # and after it

    # The allowlist shows the three kinds of rule, and the plan honours them.
    allowlist = (workdir / "imagegate.yaml").read_text()
    assert 'tags: ["7.2", "7.4"]' in allowlist
    assert "exclude: ['-rc']" in allowlist and "newest: 3" in allowlist
    assert re.search(r'"1\.0@sha256:[0-9a-f]{64}"', allowlist)
    assert (workdir / "state.db").is_file()
    cli_part = out.split("== Plan:")[1].split("== Done")[0]
    assert "3.2.0-rc1" not in cli_part  # the excluded rc is never planned or copied

    registry_out = out.split("== The organization's job")[0]
    first, second = (parse_sync_output(p) for p in registry_out.split("$ imagegate sync")[1:])
    assert (first.copied, first.updated, first.failed) == (5, 0, 0)
    assert (second.copied, second.updated, second.in_sync, second.failed) == (1, 1, 3, 0)
    assert second.moved_bytes * 5 < first.moved_bytes, (first.moved, second.moved)
    assert re.search(r"acme/redis:7\.4\s+sha256:\w+ -> sha256:\w+", out)
    assert re.search(r"acme/tool\s.*1\.0\s+moved-pinned", out)

    # The closing summary, with every fact checked on the target by the demo.
    summary = out.split("== Done")[1]
    assert summary.count("      ok  ") == 4 + 7, summary
    assert "acme/loki: 3.0.0, 3.1.0, 3.3.0" in summary
    assert re.search(r"acme/redis: 7\.2, 7\.4, 7\.4--prev-[0-9a-f]{12}", summary)
    assert "nothing is left running" in summary

    # The organization's job, against the Docker Hub double: every step checked by the demo
    # on the double and with a member's own pulls.
    org_part = out.split("== The organization's job")[1].split("== Done")[0]
    org_summary = summary.split("the organization's job")[1]
    for fact in (
        "Image Access Management of acme is on",
        "acme/redis was created private through the API, before any push",
        "team developers may read acme/redis",
        "molly is refused the community original bitnami/redis:7.2 (IAM)",
        "molly pulls the mirror acme/redis:7.2",
        "stays on the reviewed",
        "is the approved update",
    ):
        assert fact in org_summary, org_summary
    org_yaml = (workdir / "org.yaml").read_text()
    assert "access_management: {enabled: true}" in org_yaml and "policy: review" in org_yaml
    first_sync = org_part.split("$ imagegate sync")[1]
    hub_lines = re.findall(r"^hub done\s+(.+?)\s*$", first_sync, flags=re.MULTILINE)
    assert hub_lines[0].startswith("set Image Access Management of acme"), hub_lines
    assert "create repository acme/redis (private)" in hub_lines
    assert "grant team developers read on acme/redis" in hub_lines
    syncs = [parse_sync_output(p) for p in org_part.split("$ imagegate sync")[1:]]
    assert [(s.copied, s.updated) for s in syncs] == [(0, 0), (1, 0), (0, 0), (0, 1)]
    assert "1 pending review" in org_part.split("$ imagegate sync")[3]
    _assert_nothing_left(tmp_path, out)


def test_demo_stops_its_registries_when_interrupted(tmp_path):
    proc = subprocess.Popen(
        _demo_command(tmp_path / "demo"),
        cwd=REPO_ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    try:
        for line in proc.stdout:  # wait until the registries are up and the CLI is running
            seen.append(line)
            if line.startswith("$ imagegate plan"):
                break
        else:
            pytest.fail("the demo never ran `imagegate plan`:\n" + "".join(seen))
        assert _registry_pids_mentioning(str(tmp_path)), "registries should be running now"
        proc.send_signal(signal.SIGINT)  # the demo alone, as `kill -INT` would
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "demo: interrupted; registries stopped" in err
    _assert_nothing_left(tmp_path, "".join(seen) + rest, registries=2)
