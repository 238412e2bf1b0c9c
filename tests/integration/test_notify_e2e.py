"""Notifications end to end: `sync` and `watch` post to a real local receiver, some of whose
webhooks fail; the run goes on, one message per event kind, and the URL never shows."""

from __future__ import annotations

import textwrap
import threading
from typing import Any

import pytest
from aiohttp import web

from imagegate.cli.main import main
from tests.support.bgserver import BackgroundServer
from tests.support.images import DEFAULT_CREATED, DEFAULT_PLATFORMS, oci_labels
from tests.support.pusher import Pusher
from tests.support.watch_process import WatchProcess, sample, wait_for, write_config

SECRET = "T0000/B0000/notify-e2e-secret-token"


class Receiver:
    """Webhook receiver: ``/ok/*`` answers 200, ``/flaky/*`` 500 once then 200,
    ``/broken/*`` always 400. Every POST is recorded as (name, body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.flaky_failed = False
        self.lock = threading.Lock()
        app = web.Application()
        app.router.add_post("/{name}/{tail:.*}", self.handle)
        self.server = BackgroundServer(app)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        assert request.match_info["tail"] == SECRET
        body = await request.json()
        with self.lock:
            self.calls.append((name, body))
            if name == "flaky" and not self.flaky_failed:
                self.flaky_failed = True
                return web.Response(status=500, text="try again")
        if name == "broken":
            return web.Response(status=400, text="bad hook")
        return web.json_response({"ok": True})

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}/{SECRET}"

    def bodies(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for n, body in self.calls if n == name]

    def events(self, name: str) -> list[str]:
        return [str(b.get("event")) for b in self.bodies(name) if "event" in b]


@pytest.fixture
def receiver():
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()


@pytest.fixture
def watch_process(tmp_path):
    started: list[WatchProcess] = []

    def start(config, *args):
        started.append(WatchProcess(config, *args, tmp=tmp_path))
        return started[-1]

    yield start
    for proc in started:
        proc.close()


def notify_block(receiver: Receiver) -> str:
    return textwrap.dedent(
        f"""\
        notify:
          webhooks:
            - url: {receiver.url("ok")}
            - url: {receiver.url("flaky")}
              format: slack
            - url: {receiver.url("broken")}
              events: [summary]
        """
    )


def test_sync_notifies_once_per_kind_and_survives_failing_webhooks(
    source_registry, target_registry, tmp_path, image_factory, receiver, capsys
):
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    for tag in ("1.0", "1.1"):
        up.push_image("up/app", tag, image_factory.image())
    rev = image_factory.multiarch(labels=oci_labels("7.4.1", "abc123def4567890"))
    up.push_image("up/rev", "1.0", rev)
    cfg = tmp_path / "imagegate.yaml"
    images = (
        '- source: {src}/up/app\n  tags: ["1.0", "1.1"]\n'
        '- source: {src}/up/rev\n  tags: ["1.0"]\n  policy: review\n'
        '- source: {src}/nobody/missing\n  tags: ["1"]\n'
    )
    write_config(
        cfg, source_registry.host, target_registry.host, images, extra=notify_block(receiver)
    )

    code = main(["sync", "-c", str(cfg)])
    out, err = capsys.readouterr()
    assert code == 1  # one image failed; the others were mirrored regardless
    assert target.head_manifest("acme/app", "1.1") is not None

    # one message per kind, never one per tag; then one summary
    assert sorted(receiver.events("ok")) == ["failed", "pending", "published", "summary"]
    by_event = {b["event"]: b for b in receiver.bodies("ok")}
    assert {i["tag"] for i in by_event["published"]["items"]} == {"1.0", "1.1"}
    [pending] = by_event["pending"]["items"]
    assert pending["image"].endswith("/up/rev") and pending["new_digest"] == rev.digest
    # what a reviewer needs, as `imagegate pending` shows it (a new tag: nothing to compare)
    details = pending["details"]
    assert details["platforms"] == list(DEFAULT_PLATFORMS)
    assert details["created"] == DEFAULT_CREATED and details["size"] == sum(
        map(len, rev.blobs.values())
    )
    assert details["layers"] == 2 and details["layers_changed"] is None
    assert details["labels"]["version"] == "7.4.1"
    assert details["labels"]["revision"] == "abc123def4567890"
    [failed] = by_event["failed"]["items"]
    assert failed["image"].endswith("/nobody/missing") and failed["message"]
    summary = by_event["summary"]
    assert summary["result"] == "failure"
    assert summary["counts"]["published"] == 2 and summary["counts"]["pending"] == 1

    # the flaky Slack hook got everything after one retry; the broken one was tried once
    slack = receiver.bodies("flaky")
    assert len(slack) == 5 and all("text" in b and "blocks" in b for b in slack)
    slack_pending = next(b for b in slack if "waiting for review" in b["text"])
    line = slack_pending["blocks"][1]["text"]["text"].splitlines()[1]
    assert line.startswith(
        f"    _built {DEFAULT_CREATED[:10]}, {len(DEFAULT_PLATFORMS)} platforms, "
    )
    assert line.endswith(", 2 layers, version 7.4.1, revision abc123def456_")
    assert len(receiver.bodies("broken")) == 1

    # the webhook URL is a secret: not in the output, the logs or the state file
    assert SECRET not in out + err
    assert '"error": "HTTP 400"' in err and receiver.server.url in err  # origin only
    assert SECRET.encode() not in (tmp_path / "state.db").read_bytes()


def test_watch_notifies_each_run_and_a_failed_run(
    source_registry, target_registry, tmp_path, image_factory, receiver, watch_process
):
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    a = image_factory.image()
    up.push_image("up/app", "1.0", a)
    cfg = tmp_path / "imagegate.yaml"
    images = '- source: {src}/up/app\n  tags: ["1.0"]\n'
    extra = notify_block(receiver)
    write_config(cfg, source_registry.host, target_registry.host, images, extra=extra)

    w = watch_process(cfg)
    w.wait("the first summary", lambda: "summary" in receiver.events("ok"))
    b = image_factory.image()
    up.push_image("up/app", "1.0", b)
    w.wait("the update", lambda: target.head_manifest("acme/app", "1.0") == b.digest)

    def published_b() -> bool:
        return any(
            item["new_digest"] == b.digest and item["old_digest"] == a.digest
            for body in receiver.bodies("ok")
            if body["event"] == "published"
            for item in body["items"]
        )

    w.wait("the published notification", published_b)
    # quiet summaries: runs where nothing happened send nothing
    summaries = receiver.events("ok").count("summary")
    wait_for("two more runs", lambda: w.health()["runs"]["success"] >= 4)
    assert receiver.events("ok").count("summary") <= summaries + 1

    # a broken allowlist fails the run, is notified (with the last good webhooks), and the
    # loop goes on
    cfg.write_text(cfg.read_text().replace("images:", "imagez:"))
    w.wait(
        "a run failure notice",
        lambda: any(
            item["image"] is None and "the run failed" in item["message"]
            for body in receiver.bodies("ok")
            if body["event"] == "failed"
            for item in body["items"]
        ),
    )
    assert w.proc.poll() is None
    # the notice goes out during the run; the run is counted once it has ended
    w.wait(
        "the failed run in the metrics",
        lambda: sample(w.metrics(), "imagegate_runs_total", result="failure") >= 1,
    )
    assert sample(w.metrics(), "imagegate_errors_total", kind="notify") >= 1  # the broken hook
    assert w.stop() == 0
    log = w.output()
    assert SECRET not in log
    assert '"error": "HTTP 400"' in log
