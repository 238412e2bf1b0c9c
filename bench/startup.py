"""``python -m bench.startup [--runs N] [--src DIR] [--json FILE]``: start-up time per command.

Runs each command N times in a fresh interpreter (``python -m imagegate ...``) and reports
the median wall time and the median CPU time (user + system, from the child's rusage: less
sensitive than wall time to other work on the machine). The measured tree is byte-compiled
first, as ``pip install`` does (:mod:`bench.bytecode`). The commands touch no network: a
temporary allowlist and state database are made first (``approve --all`` creates the state).
``sync (imports)`` is the interpreter importing what a sync runs on (the HTTP stack, the run
layer) without running it.

``--src DIR`` measures another checkout's ``src`` (e.g. the main branch, for before/after
figures in docs/benchmarks.md). A command that checkout does not have is reported as n/a.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.bytecode import compile_tree

REPO_SRC = Path(__file__).resolve().parent.parent / "src"

ALLOWLIST = """\
version: 1
target:
  registry: localhost:5000
  namespace: acme
state: state.db
images:
  - source: bitnami/redis
    tags: ["7.2", "7.4"]
  - source: grafana/loki
    tags: {include: ['^3\\.\\d+\\.\\d+$'], semver: '>=3.0'}
"""

SYNC_IMPORTS = "import imagegate.cli.main, imagegate.cli.sync, imagegate.run.sync"


@dataclass(frozen=True, slots=True)
class Figure:
    command: str
    wall_s: float | None  # median
    cpu_s: float | None  # median, user + system
    runs: int


def commands(config: Path) -> list[tuple[str, list[str]]]:
    c = ["-c", str(config)]
    m = ["-m", "imagegate"]
    return [
        ("--version", [*m, "--version"]),
        ("--help", [*m, "--help"]),
        ("schema", [*m, "schema"]),
        ("validate", [*m, "validate", *c]),
        ("history", [*m, "history", *c]),
        ("pending", [*m, "pending", *c]),
        ("completion bash", [*m, "completion", "bash"]),
        ("sync --help", [*m, "sync", "--help"]),
        ("sync (imports)", ["-c", SYNC_IMPORTS]),
    ]


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(wall, cpu, exit code) of one ``python ARGV``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def measure(src: Path, runs: int) -> list[Figure]:
    compile_tree(src)  # as installed: no compiling at start-up (see bench/bytecode.py)
    env = {**os.environ, "PYTHONPATH": str(src), "HOME": tempfile.gettempdir()}
    env.pop("IMAGEGATE_CONFIG", None)
    with tempfile.TemporaryDirectory(prefix="imagegate-startup-") as tmp:
        work = Path(tmp)
        config = work / "imagegate.yaml"
        config.write_text(ALLOWLIST)
        run_once(["-m", "imagegate", "approve", "--all", "-c", str(config)], env, work)
        figures = []
        for name, argv in commands(config):
            if run_once(argv, env, work)[2] not in (0, 1):  # warm-up; also: does it exist?
                figures.append(Figure(name, None, None, 0))
                continue
            walls, cpus = [], []
            for _ in range(runs):
                wall, cpu, _code = run_once(argv, env, work)
                walls.append(wall)
                cpus.append(cpu)
            figures.append(Figure(name, statistics.median(walls), statistics.median(cpus), runs))
        return figures


def render(figures: list[Figure], label: str) -> str:
    lines = [f"| command | wall, median ({label}) | CPU, median |", "| --- | --- | --- |"]
    for f in figures:
        if f.wall_s is None or f.cpu_s is None:
            lines.append(f"| `{f.command}` | n/a | n/a |")
        else:
            lines.append(f"| `{f.command}` | {f.wall_s:.3f} s | {f.cpu_s:.3f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    parser.add_argument("--src", type=Path, default=REPO_SRC, help="the src/ to measure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = measure(args.src.resolve(), max(1, args.runs))
    print(render(figures, f"{args.runs} runs, {os.cpu_count()} CPUs"))
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
