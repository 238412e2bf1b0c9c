"""`imagegate watch` as a real subprocess, and what its tests share: waiting on a condition
(with a generous deadline), the allowlist they write, a sample of the Prometheus metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.world import write_allowlist

REPO_ROOT = Path(__file__).resolve().parents[2]


# generous: a deadline only matters when something is wrong, and CI machines can be loaded
WAIT_SECONDS = 60.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class WatchProcess:
    """``imagegate watch`` in a subprocess; JSON log lines on stderr (kept in a file)."""

    def __init__(self, config: Path, *args: str, tmp: Path) -> None:
        self.log_path = tmp / f"watch-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imagegate", "--log-format", "json", "watch", "-c",
             str(config), "--listen", "127.0.0.1:0", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )  # fmt: skip
        started = wait_for("watch to start", lambda: self.event("watch started"))
        self.url: str = started["url"]

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": line})
        return out

    def event(self, name: str) -> dict[str, Any] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"watch exited {self.proc.returncode}:\n{self.output()}")
        return next((x for x in self.lines() if x.get("event") == name), None)

    def output(self) -> str:
        return self.log_path.read_text()

    def wait(self, what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        try:
            return wait_for(what, check, timeout)
        except AssertionError as exc:
            tail = "\n".join(self.output().splitlines()[-15:])
            raise AssertionError(f"{exc}; the watch log ends with:\n{tail}") from None

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = json.loads(self.get("/healthz")[1])
        return health

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = self.get("/metrics")
        assert status == 200
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def stop(self, timeout: float = WAIT_SECONDS) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def write_config(path: Path, source_host: str, target_host: str, images: str, extra: str = ""):
    """An allowlist with a 500 ms schedule (runs are sequential, so it never overlaps)."""
    schedule = "schedule:\n  every: 500ms\n"
    write_allowlist(
        path, target=target_host, images=images.format(src=source_host), extra=schedule + extra
    )


def sample(metrics, name, **labels):
    return metrics[(name, tuple(sorted(labels.items())))]
