"""Webhook delivery to a real local receiver that can fail, stall and rate-limit first."""

import asyncio
import logging
import time

import pytest
from aiohttp import web

from imagegate.domain.allowlist import NotifyEvent, Secret, WebhookConfig, WebhookFormat
from imagegate.errors import StateError
from imagegate.log import JsonFormatter
from imagegate.notify.delivery import DeliveryPolicy, DeliveryResult
from imagegate.notify.notifier import Notifier

# timeout: generous, so that a loaded machine never turns a slow "ok" into a retry; the one
# test that needs an attempt to time out uses SHORT and an answer that never comes
FAST = DeliveryPolicy(tries=3, timeout=10, backoff=0.01, max_retry_after=5)
SHORT = DeliveryPolicy(tries=3, timeout=2.0, backoff=0.01, max_retry_after=5)
SECRET = "T000/B000/XXXXsecretXXXX"
OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64


class Receiver:
    """Records every POST; ``script[path]`` lists answers to give first ('ok' afterwards)."""

    def __init__(self):
        self.script = {}
        self.calls = []  # (path, monotonic time, json or None)
        self.runner: web.AppRunner | None = None
        self.base = ""
        self.closing: asyncio.Event | None = None

    async def handle(self, request):
        path = request.path
        body = await request.json()
        self.calls.append((path, time.monotonic(), body))
        answers = self.script.get(path, [])
        answer = answers.pop(0) if answers else "ok"
        if answer == "ok":
            return web.json_response({"ok": True})
        if answer == "timeout":  # no answer until the receiver closes
            assert self.closing is not None
            await self.closing.wait()
            return web.json_response({"ok": True})
        if answer.startswith("429"):
            _, _, retry = answer.partition(":")
            return web.Response(status=429, headers={"Retry-After": retry} if retry else {})
        return web.Response(status=int(answer), text="nope")

    async def __aenter__(self):
        self.closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc):
        assert self.runner is not None and self.closing is not None
        self.closing.set()
        await self.runner.cleanup()

    def url(self, name):
        return f"{self.base}/{name}/{SECRET}"

    def bodies(self, name):
        return [body for path, _, body in self.calls if path == f"/{name}/{SECRET}"]


@pytest.fixture
def notify_log():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("imagegate.notify")
    handler = Keep()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_one_message_per_event_kind_and_one_summary_per_run():
    async def main():
        async with Receiver() as rx:
            notifier = Notifier(
                [
                    WebhookConfig(Secret(rx.url("json"))),
                    WebhookConfig(Secret(rx.url("slack")), format=WebhookFormat.SLACK),
                ],
                policy=FAST,
            )
            async with notifier.run("run-7") as note:
                note.pending(
                    "nginx", tag="1.27", target="acme/nginx", old_digest=OLD, new_digest=NEW
                )
                note.pending(
                    "nginx", tag="1.26", target="acme/nginx", old_digest=OLD, new_digest=NEW
                )
                for tag in ("7.0", "7.2", "7.4"):
                    note.published("redis", tag=tag, target="acme/redis", new_digest=NEW)
                note.failed("HTTP 500 from the source", image="ghcr.io/x/y", tag="1")
                note.count("in_sync", 40)
            return rx, note

    rx, note = asyncio.run(main())
    json_bodies = rx.bodies("json")
    assert [b["event"] for b in json_bodies] == ["pending", "published", "failed", "summary"]
    pending, published, failed, summary = json_bodies
    assert [i["tag"] for i in pending["items"]] == ["1.27", "1.26"]
    assert [i["tag"] for i in published["items"]] == ["7.0", "7.2", "7.4"]
    assert failed["items"][0]["message"] == "HTTP 500 from the source"
    assert summary["run_id"] == "run-7"
    assert summary["result"] == "failure"  # an image failed
    assert summary["counts"] == {"pending": 2, "published": 3, "failed": 1, "in_sync": 40}
    assert len(summary["items"]) == 6
    slack = rx.bodies("slack")
    assert len(slack) == 4
    assert all(set(b) == {"text", "blocks"} for b in slack)
    assert slack[1]["text"] == "imagegate: 3 updates published"
    assert all(r.delivered and r.attempts == 1 for r in note.results)
    assert len(note.results) == 8


def test_retries_through_500_and_timeout_then_delivers():
    async def main():
        async with Receiver() as rx:
            rx.script[f"/flaky/{SECRET}"] = ["500", "timeout"]
            hook = WebhookConfig(Secret(rx.url("flaky")), events=frozenset({NotifyEvent.PUBLISHED}))
            notifier = Notifier([hook], policy=SHORT)
            async with notifier.run() as note:
                note.published("redis", tag="7.2", new_digest=NEW)
            return rx, note

    rx, note = asyncio.run(main())
    assert len(rx.bodies("flaky")) == 3
    (result,) = note.results
    assert (result.delivered, result.attempts, result.status) == (True, 3, 200)


def test_429_retry_after_is_honoured():
    async def main():
        async with Receiver() as rx:
            rx.script[f"/limited/{SECRET}"] = ["429:1"]
            target = WebhookConfig(
                Secret(rx.url("limited")), events=frozenset({NotifyEvent.PENDING})
            )
            async with Notifier([target], policy=FAST).run() as note:
                note.pending("nginx", tag="1", old_digest=OLD, new_digest=NEW)
            return rx, note

    rx, note = asyncio.run(main())
    times = [t for path, t, _ in rx.calls]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95  # Retry-After: 1, not the 0.01s backoff
    assert note.results[0].delivered


def test_failures_are_logged_without_the_url_and_the_run_goes_on(notify_log):
    async def main():
        async with Receiver() as rx:
            rx.script[f"/down/{SECRET}"] = ["500"] * 6
            rx.script[f"/bad/{SECRET}"] = ["400", "400"]
            seen: list[DeliveryResult] = []
            notifier = Notifier(
                [
                    WebhookConfig(Secret(rx.url("down"))),
                    WebhookConfig(Secret(rx.url("bad"))),
                    WebhookConfig(Secret(f"http://127.0.0.1:1/{SECRET}")),  # nothing listens
                    WebhookConfig(Secret(rx.url("good"))),
                ],
                policy=FAST,
                on_delivery=seen.append,
            )
            after = []
            async with notifier.run() as note:
                note.published("redis", tag="7.2", new_digest=NEW)
            after.append("the run went on")
            return rx, note, seen, after

    rx, note, seen, after = asyncio.run(main())
    assert after == ["the run went on"]
    assert len(rx.bodies("down")) == 6  # 3 tries x (published + summary)
    assert len(rx.bodies("bad")) == 2  # a 400 is not retried
    assert len(rx.bodies("good")) == 2
    assert seen == note.results
    down = [r for r in seen if not r.delivered and r.status == 500]
    assert [r.attempts for r in down] == [3, 3]
    assert {r.error for r in seen if r.status == 400} == {"HTTP 400"}
    refused = [r for r in seen if r.origin == "http://127.0.0.1:1"]
    assert [(r.delivered, r.attempts) for r in refused] == [(False, 3), (False, 3)]
    assert refused[0].error.startswith("cannot connect")
    failures = [r for r in notify_log if r.levelno == logging.WARNING]
    assert len(failures) == 6
    rendered = "\n".join(JsonFormatter().format(r) for r in notify_log)
    assert SECRET not in rendered
    assert "/down/" not in rendered
    assert rx.base in rendered  # the origin is there to debug with


def test_flush_sends_pending_changes_during_the_run():
    async def main():
        async with Receiver() as rx:
            target = WebhookConfig(Secret(rx.url("hook")))
            async with Notifier([target], policy=FAST).run() as note:
                note.pending("nginx", tag="1", old_digest=OLD, new_digest=NEW)
                await note.flush()
                during = [b["event"] for b in rx.bodies("hook")]
                note.published("nginx", tag="2", new_digest=NEW)
            return during, [b["event"] for b in rx.bodies("hook")]

    during, after = asyncio.run(main())
    assert during == ["pending"]
    assert after == ["pending", "published", "summary"]  # pending is not sent twice


def test_a_run_that_raises_sends_a_failed_summary_and_still_raises():
    async def main():
        async with Receiver() as rx:
            target = WebhookConfig(Secret(rx.url("hook")), format=WebhookFormat.JSON)
            with pytest.raises(StateError):
                async with Notifier([target], policy=FAST).run("r9") as note:
                    note.published("redis", tag="7.2", new_digest=NEW)
                    raise StateError("state database is locked; is another imagegate running?")
            return rx.bodies("hook")

    bodies = asyncio.run(main())
    assert [b["event"] for b in bodies] == ["published", "failed", "summary"]
    assert bodies[1]["items"][0]["message"] == (
        "the run failed: state database is locked; is another imagegate running?"
    )
    assert bodies[2]["result"] == "failure"


def test_event_filter_and_quiet_summaries():
    async def main():
        async with Receiver() as rx:
            only_summary = frozenset({NotifyEvent.SUMMARY})
            notifier = Notifier(
                [
                    WebhookConfig(Secret(rx.url("quiet")), events=only_summary),
                    WebhookConfig(Secret(rx.url("chatty")), events=only_summary, quiet=False),
                ],
                policy=FAST,
            )
            async with notifier.run("empty") as note:
                note.count("in_sync", 12)
            async with notifier.run("busy") as note:
                note.published("redis", tag="7.2", new_digest=NEW)
            return rx

    rx = asyncio.run(main())
    assert [(b["run_id"], b["event"]) for b in rx.bodies("quiet")] == [("busy", "summary")]
    chatty = rx.bodies("chatty")
    assert [(b["run_id"], b["result"]) for b in chatty] == [
        ("empty", "success"),
        ("busy", "success"),
    ]
    assert chatty[0]["counts"] == {"pending": 0, "published": 0, "failed": 0, "in_sync": 12}
