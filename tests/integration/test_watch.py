"""`imagegate watch` as a real subprocess against real registries: it picks up upstream changes
on its own, never overlaps runs, re-reads the file, survives an outage, serves /healthz and
Prometheus /metrics, and stops cleanly on SIGTERM without leaving a half-written tag."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from imagegate.state import RunResult, open_state
from tests.support.proxy import Fault
from tests.support.pusher import Pusher
from tests.support.watch_process import WatchProcess, sample, wait_for, write_config

APP_AND_REVIEW = """\
- source: {src}/up/app
  tags: ["1.0"]
- source: {src}/up/rev
  tags: ["1.0"]
  policy: review
"""


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
    assert sample(m, "imagegate_copied_bytes_total") > sum(len(x) for x in b.blobs.values())
    assert sample(m, "imagegate_pending_changes") == 1  # the review image waits
    assert sample(m, "imagegate_images", state="in_sync") == 2
    # the review image is held on purpose, not drifted: no out-of-sync alert for it
    assert sample(m, "imagegate_images", state="out_of_sync") == 0
    assert sample(m, "imagegate_images", state="held") == 1
    assert sample(m, "imagegate_tags", state="held") == 1
    assert sample(m, "imagegate_run_duration_seconds_count") >= 3
    assert sample(m, "imagegate_copy_duration_seconds_count") >= 3  # app twice, new once
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
    # an upstream outage is not the pod's fault: alive and ready, so no restart loop
    status, body = w.get("/livez")
    assert status == 200 and json.loads(body)["status"] == "alive", body
    status, body = w.get("/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready", body
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
