"""The /healthz and /metrics server on loopback, fed by a real scheduler loop."""

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from imagegate.domain.listen import ListenAddress, parse_listen
from imagegate.domain.schedule import Schedule, parse_duration
from imagegate.errors import ConfigError, RegistryTransportError
from imagegate.watch.metrics import SyncStateLabel, WatchMetrics
from imagegate.watch.runs import HealthReport, RunHistory, RunOutcome
from imagegate.watch.scheduler import run_schedule
from imagegate.watch.server import WatchServer


async def get(session, url):
    async with session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def get_json(session, url):
    async with session.get(url) as resp:
        return resp.status, await resp.json()


def test_metrics_and_healthz_follow_the_watch_loop():
    async def main():
        history, metrics = RunHistory(), WatchMetrics()
        stop = asyncio.Event()
        outcomes = ["ok", "ok", "down", "down", "down", "ok"]
        gate: asyncio.Queue[None] = asyncio.Queue()  # the test lets one run through at a time

        async def job():
            await gate.get()
            what = outcomes.pop(0)
            if what == "down":
                raise RegistryTransportError("registry.test: connection refused")
            metrics.set_sync_state(
                images={SyncStateLabel.IN_SYNC: 2},
                tags={SyncStateLabel.IN_SYNC: 5},
                pending_changes=1,
            )
            metrics.add_copied_bytes(4096)
            metrics.set_rate_limit("docker.io", 99)
            return RunOutcome(success=True, message="2 images in sync")

        done = asyncio.Event()

        def on_record(record):
            metrics.observe_run(record)
            done.set()

        async def step(session, base):
            done.clear()
            gate.put_nowait(None)
            await done.wait()
            return await get_json(session, f"{base}/healthz")

        async with (
            WatchServer(ListenAddress("127.0.0.1", 0), history=history, metrics=metrics) as server,
            aiohttp.ClientSession() as session,
        ):
            assert server.port > 0
            base = server.url
            loop_task = asyncio.create_task(
                run_schedule(
                    job,
                    Schedule(every=parse_duration("0.01s")),
                    stop=stop,
                    history=history,
                    on_record=on_record,
                    backoff_base=0,
                )
            )
            await asyncio.sleep(0)  # let the loop start its first run
            status, body = await get_json(session, f"{base}/healthz")
            assert (status, body["status"], body["state"]) == (200, "ok", "running")
            assert body["last_run"] is None

            status, body = await step(session, base)
            assert status == 200
            assert body["last_run"]["result"] == "success"
            assert body["last_run"]["message"] == "2 images in sync"

            status, ctype, text = await get(session, f"{base}/metrics")
            assert status == 200
            assert ctype == "text/plain; version=0.0.4; charset=utf-8"
            families = {f.name: f for f in text_string_to_metric_families(text)}
            values = {
                name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
                for name, f in families.items()
            }
            assert values["imagegate_runs"][(("result", "success"),)] == 1
            assert values["imagegate_last_run_success"] == {(): 1}
            assert values["imagegate_images"][(("state", "in_sync"),)] == 2
            assert values["imagegate_pending_changes"] == {(): 1}
            assert values["imagegate_copied_bytes"] == {(): 4096}
            assert values["imagegate_source_rate_limit_remaining"] == {
                (("registry", "docker.io"),): 99
            }

            await step(session, base)
            for expected in (200, 200, 503):  # failures 1, 2, 3 (the limit is 3)
                status, body = await step(session, base)
                assert status == expected
            assert body["status"] == "failing"
            # failing runs (an upstream outage) leave the process alive and ready
            status, live = await get_json(session, f"{base}/livez")
            assert (status, live["status"]) == (200, "alive")
            status, ready = await get_json(session, f"{base}/readyz")
            assert (status, ready["status"]) == (200, "ready")
            assert body["consecutive_failures"] == 3
            assert body["last_run"]["message"] == "registry.test: connection refused"
            _, _, text = await get(session, f"{base}/metrics")
            assert "imagegate_last_run_success 0.0\n" in text
            assert 'imagegate_runs_total{result="failure"} 3.0\n' in text

            status, body = await step(session, base)  # recovery resets the streak
            assert (status, body["status"], body["consecutive_failures"]) == (200, "ok", 0)
            assert body["runs"] == {"success": 3, "failure": 3, "cancelled": 0}

            stop.set()
            await loop_task
            status, body = await get_json(session, f"{base}/healthz")
            assert (status, body["status"]) == (503, "stopped")
            status, body = await get_json(session, f"{base}/livez")
            assert (status, body["status"]) == (503, "stopped")

            status, _, _ = await get(session, f"{base}/nope")
            assert status == 404

    asyncio.run(main())


def test_livez_fails_only_when_the_scheduler_is_wedged_and_readyz_asks_the_check():
    now = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)
    history = RunHistory()
    history.state, history.next_run = "waiting", now - timedelta(minutes=4)
    checks: dict[str, str | None] = {"state_error": None}

    async def readiness():
        error = checks["state_error"]
        return HealthReport(error is None, {"status": "unready" if error else "ready"})

    async def main():
        async with (
            WatchServer(
                ListenAddress("127.0.0.1", 0),
                history=history,
                metrics=WatchMetrics(),
                readiness=readiness,
                wedged_after=timedelta(minutes=5),
                clock=lambda: now,
            ) as server,
            aiohttp.ClientSession() as session,
        ):
            status, body = await get_json(session, f"{server.url}/livez")
            assert (status, body["status"]) == (200, "alive")  # late, within the margin
            history.next_run = now - timedelta(minutes=6)
            status, body = await get_json(session, f"{server.url}/livez")
            assert (status, body["status"]) == (503, "wedged")
            history.state = "running"  # a long run is not a wedged scheduler
            status, body = await get_json(session, f"{server.url}/livez")
            assert (status, body["status"]) == (200, "alive")

            status, body = await get_json(session, f"{server.url}/readyz")
            assert (status, body["status"]) == (200, "ready")
            checks["state_error"] = "state.db: file is not a database"
            status, body = await get_json(session, f"{server.url}/readyz")
            assert (status, body["status"]) == (503, "unready")

    asyncio.run(main())


def test_a_busy_port_is_a_clear_error():
    async def main():
        history = RunHistory()
        async with WatchServer(
            ListenAddress("127.0.0.1", 0), history=history, metrics=WatchMetrics()
        ) as first:
            second = WatchServer(
                ListenAddress("127.0.0.1", first.port), history=history, metrics=WatchMetrics()
            )
            with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*"):
                await second.start()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:9090", "127.0.0.1", 9090),
        ("localhost:0", "localhost", 0),
        (":9090", "0.0.0.0", 9090),
        ("[::1]:8080", "::1", 8080),
        (" 0.0.0.0:1 ", "0.0.0.0", 1),
    ],
)
def test_parse_listen_address(text, host, port):
    assert parse_listen(text, any_port=True) == ListenAddress(host, port)


@pytest.mark.parametrize("text", ["9090", "host", "host:", "host:70000", "::1:80", "a:b:c", ""])
def test_parse_listen_address_rejects(text):
    with pytest.raises(ConfigError, match=r"^invalid address .*: (expected host:port|port 70000)"):
        parse_listen(text, any_port=True)
