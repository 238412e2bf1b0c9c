"""Run a tool as a child process: wall time, peak RSS, CPU time, output.

Peak RSS is ``ru_maxrss`` of the tool, read by a tiny launcher process that forks and execs
it. Reading it straight from our own ``wait4`` would be wrong: Linux carries the parent's
RSS high-water mark across fork+exec, and this harness holds the corpus in memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Runs in a fresh, small interpreter: fork, exec the tool, wait4, write the figures as JSON.
_LAUNCHER = """
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
began = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
seconds = time.monotonic() - began
with open(out, "w") as fh:
    json.dump({"code": os.waitstatus_to_exitcode(status), "seconds": seconds,
               "maxrss": ru.ru_maxrss, "utime": ru.ru_utime, "stime": ru.ru_stime}, fh)
"""


@dataclass(frozen=True, slots=True)
class ProcResult:
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    peak_rss_kib: int  # the tool's own high-water mark (VmHWM), its children excluded
    user_cpu: float
    sys_cpu: float
    stdout: str
    stderr: str

    def check(self) -> ProcResult:
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.argv[:3])} ... exited {self.returncode}:\n"
                f"{self.stderr[-3000:]}\n{self.stdout[-2000:]}"
            )
        return self

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024

    @property
    def cpu_seconds(self) -> float:
        return self.user_cpu + self.sys_cpu


def run_timed(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> ProcResult:
    """Run ``argv`` to completion; output goes to temporary files (no pipe back-pressure).
    ``seconds`` is measured by the launcher around the tool alone."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-proc-") as tmp,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        figures = Path(tmp) / "figures.json"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(figures), *argv]
        subprocess.run(
            launcher,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env or os.environ),
            check=False,
        )
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        if not figures.exists():
            raise RuntimeError(f"could not run {argv[0]}: {stderr[-2000:]}")
        fig = json.loads(figures.read_text())
        return ProcResult(
            argv=tuple(argv),
            returncode=int(fig["code"]),
            seconds=float(fig["seconds"]),
            peak_rss_kib=int(fig["maxrss"]),
            user_cpu=float(fig["utime"]),
            sys_cpu=float(fig["stime"]),
            stdout=stdout,
            stderr=stderr,
        )
