"""`imagegate watch` as a real subprocess against real registries: it picks up upstream changes
on its own, never overlaps runs, re-reads the file, survives an outage, serves /healthz and
Prometheus /metrics, and stops cleanly on SIGTERM without leaving a half-written tag."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from imagegate.state import RunResult, open_state
from tests.support.proxy import Fault
from tests.support.pusher import Pusher
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


@pytest.fixture
def watch_process(tmp_path):
    started: list[WatchProcess] = []

    def start(config: Path, *args: str) -> WatchProcess:
        proc = WatchProcess(config, *args, tmp=tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


def write_config(path: Path, source_host: str, target_host: str, images: str, extra: str = ""):
    """An allowlist with a 500 ms schedule (runs are sequential, so it never overlaps)."""
    schedule = "schedule:\n  every: 500ms\n"
    write_allowlist(
        path, target=target_host, images=images.format(src=source_host), extra=schedule + extra
    )


APP_AND_REVIEW = """\
- source: {src}/up/app
  tags: ["1.0"]
- source: {src}/up/rev
  tags: ["1.0"]
  policy: review
"""


def sample(metrics, name, **labels):
    return metrics[(name, tuple(sorted(labels.items())))]


def test_watch_follows_upstream_without_overlap_and_stops_cleanly(
    source_registry, target_registry, tmp_path, image_factory, watch_process
):
    began = time.time()
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    a, r = image_factory.multiarch(), image_factory.image()
    up.push_image("up/app", "1.0", a)
    up.push_image("up/rev", "1.0", r)
    cfg = tmp_path / "imagegate.yaml"
    write_config(cfg, source_registry.host, target_registry.host, APP_AND_REVIEW)

    w = watch_process(cfg)
    w.wait("the first mirror", lambda: target.head_manifest("acme/app", "1.0") == a.digest)

    # upstream moves the tag: the loop picks it up on its own
    b = image_factory.multiarch()
    up.push_image("up/app", "1.0", b)
    w.wait("the moved tag", lambda: target.head_manifest("acme/app", "1.0") == b.digest)
    target.assert_image("acme/app", "1.0", b)

    # the file is re-read on every run: a newly listed image is mirrored without a restart
    c = image_factory.image()
    up.push_image("up/new", "2.0", c)
    more = APP_AND_REVIEW + '- source: {src}/up/new\n  tags: ["2.0"]\n'
    write_config(cfg, source_registry.host, target_registry.host, more)
    w.wait("the new image", lambda: target.head_manifest("acme/new", "2.0") == c.digest)
    w.wait("a run to finish after it", lambda: w.health()["state"] == "waiting")

    status, _ = w.get("/healthz")
    health = w.health()
    assert status == 200 and health["status"] == "ok", health
    m = w.metrics()
    assert sample(m, "imagegate_runs_total", result="success") >= 3
    assert sample(m, "imagegate_runs_total", result="failure") == 0
    assert sample(m, "imagegate_bytes_copied_total") > sum(len(x) for x in b.blobs.values())
    assert sample(m, "imagegate_pending_changes") == 1  # the review image waits
    assert sample(m, "imagegate_images_in_sync") == 2
    # the review image is held on purpose, not drifted: no out-of-sync alert for it
    assert sample(m, "imagegate_images_out_of_sync") == 0
    assert sample(m, "imagegate_images_held") == 1
    assert sample(m, "imagegate_tags_held") == 1
    assert sample(m, "imagegate_last_run_success") == 1
    assert began <= sample(m, "imagegate_last_run_timestamp_seconds") <= time.time()
    assert target.head_manifest("acme/rev", "1.0") is None

    assert w.stop() == 0
    assert w.proc.poll() == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(w.url + "/healthz", timeout=2)
    assert "watch loop stopped" in w.output()

    # runs never overlapped: each started after the previous one finished
    with open_state(tmp_path / "state.db") as store:
        runs = sorted(store.runs(limit=1000), key=lambda r: r.id)
    assert len(runs) >= 3 and {r.kind for r in runs} == {"watch"}
    assert all(r.finished_at is not None for r in runs)
    for before, after in itertools.pairwise(runs):
        assert before.finished_at is not None
        assert before.finished_at <= after.started_at
    # no half-written tag anywhere on the target
    target.assert_image("acme/new", "2.0", c)
    for tag in target.list_tags("acme/app"):
        assert target.head_manifest("acme/app", tag) is not None


QUOTA = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "7;w=21600"}


def test_watch_survives_a_registry_outage(
    source_registry, target_registry, tmp_path, image_factory, make_proxy, watch_process
):
    down = {"on": True}
    proxy = make_proxy(
        source_registry.url,
        fault=lambda req: (
            Fault.status_code(503, headers=QUOTA, retry_after=0) if down["on"] else None
        ),
    )
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    a = image_factory.image()
    up.push_image("up/app", "1.0", a)
    cfg = tmp_path / "imagegate.yaml"
    write_config(cfg, proxy.host, target_registry.host, '- source: {src}/up/app\n  tags: ["1.0"]\n')

    w = watch_process(cfg, "--failure-backoff", "100ms", "--max-failures", "1")
    w.wait("a failed run", lambda: w.health()["consecutive_failures"] >= 1)
    status, body = w.get("/healthz")
    assert status == 503 and json.loads(body)["status"] == "failing"
    assert w.proc.poll() is None  # the loop goes on
    quota = sample(w.metrics(), "imagegate_source_rate_limit_remaining", registry=proxy.host)
    assert quota == 7  # seen on the failing answers
    assert target.head_manifest("acme/app", "1.0") is None

    down["on"] = False  # the registry is back
    w.wait("the mirror", lambda: target.head_manifest("acme/app", "1.0") == a.digest)
    w.wait("a healthy loop", lambda: w.get("/healthz")[0] == 200)
    m = w.metrics()
    assert sample(m, "imagegate_runs_total", result="failure") >= 1
    assert sample(m, "imagegate_errors_total", kind="run") >= 1
    assert sample(m, "imagegate_runs_total", result="success") >= 1
    failed = [x for x in w.lines() if x.get("event") == "run finished" and x["result"] != "success"]
    assert failed and "503" in w.output()
    assert w.stop() == 0


def test_sigterm_abandons_a_slow_copy_without_a_half_written_tag(
    source_registry, target_registry, tmp_path, image_factory, make_proxy, watch_process
):
    blobs_go_on = threading.Event()  # every blob download stalls until the test says so
    proxy = make_proxy(
        source_registry.url,
        fault=lambda req: Fault.held(blobs_go_on) if "/blobs/" in req.path else None,
    )
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    up.push_image("up/app", "1.0", image_factory.multiarch())
    cfg = tmp_path / "imagegate.yaml"
    write_config(cfg, proxy.host, target_registry.host, '- source: {src}/up/app\n  tags: ["1.0"]\n')

    try:
        w = watch_process(cfg, "--grace", "100ms")
        w.wait("a blob download in flight", lambda: proxy.count("GET", "/blobs/") > 0)
        assert w.health()["state"] == "running"
        assert w.stop() == 0  # after the 100 ms grace: the blobs never came
    finally:
        blobs_go_on.set()
    assert target.head_manifest("acme/app", "1.0") is None  # no tag without its content
    with open_state(tmp_path / "state.db") as store:
        [run] = store.runs(limit=10)
    assert run.result is RunResult.INTERRUPTED
    assert "abandoning the run in flight" in w.output()
    wait_for("the stalled proxy requests to end", lambda: len(proxy.records) == len(proxy.requests))
