"""The watch loop's HTTP endpoints: ``/livez``, ``/readyz``, ``/healthz`` (JSON) and
``/metrics`` (Prometheus text).
The web console is mounted at ``/console/`` when the allowlist has a ``console:`` section.

Started and stopped from inside the watch loop's event loop, so every answer also proves the
loop is alive. ``/livez``: 200 while the loop runs and its scheduler is not wedged (for a
liveness probe: an upstream outage never makes it fail). ``/readyz``: 200 while the
configuration is loaded and the state database is usable (the ``readiness`` check).
``/healthz`` (kept for compatibility, not for probes) answers 200 with ``"status": "ok"``
while the loop runs and fewer than ``max_consecutive_failures`` runs in a row failed;
otherwise 503 with ``"status"`` set to ``failing``, ``stopping`` or ``stopped``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiohttp import web

from imagegate.console.app import Console
from imagegate.console.serve import mount
from imagegate.domain.listen import ListenAddress
from imagegate.errors import ConfigError
from imagegate.watch.metrics import CONTENT_TYPE
from imagegate.watch.runs import DEFAULT_WEDGED_AFTER, HealthReport, RunHistory, liveness

log = logging.getLogger("imagegate.watch")


class Renderable(Protocol):
    def render(self) -> str: ...


# Is the watcher ready to work: configuration loaded, state database usable?
Readiness = Callable[[], Awaitable[HealthReport]]


async def always_ready() -> HealthReport:
    return HealthReport(healthy=True, body={"status": "ready"})


class WatchServer:
    """``async with WatchServer(...) as server:`` serves until the block ends."""

    def __init__(
        self,
        address: ListenAddress,
        *,
        history: RunHistory,
        metrics: Renderable,
        max_consecutive_failures: int = 3,
        readiness: Readiness = always_ready,
        wedged_after: timedelta = DEFAULT_WEDGED_AFTER,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        console: Console | None = None,
    ) -> None:
        if max_consecutive_failures < 1:
            raise ConfigError("max_consecutive_failures must be at least 1")
        self.address = address
        self.history = history
        self.metrics = metrics
        self.max_consecutive_failures = max_consecutive_failures
        self.readiness = readiness
        self.wedged_after = wedged_after
        self.clock = clock
        self.console = console  # the web console, mounted at /console/ when set
        self._runner: web.AppRunner | None = None
        self.bound: ListenAddress | None = None

    @property
    def port(self) -> int:
        if self.bound is None:
            raise RuntimeError("the server is not started")
        return self.bound.port

    @property
    def url(self) -> str:
        if self.bound is None:
            raise RuntimeError("the server is not started")
        host = "127.0.0.1" if self.bound.host == "0.0.0.0" else self.bound.host  # noqa: S104
        return f"http://{ListenAddress(host, self.bound.port)}"

    async def _healthz(self, _: web.Request) -> web.Response:
        report = self.history.health(max_consecutive_failures=self.max_consecutive_failures)
        return web.json_response(report.body, status=200 if report.healthy else 503)

    async def _livez(self, _: web.Request) -> web.Response:
        report = liveness(self.history, self.clock(), wedged_after=self.wedged_after)
        return web.json_response(report.body, status=200 if report.healthy else 503)

    async def _readyz(self, _: web.Request) -> web.Response:
        report = await self.readiness()
        return web.json_response(report.body, status=200 if report.healthy else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        body = self.metrics.render().encode()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> ListenAddress:
        app = web.Application()
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        if self.console is not None:
            mount(app, self.console)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.address.host, self.address.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot listen on {self.address}: {exc.strerror or exc}; "
                "choose another address or free the port"
            ) from exc
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.bound = ListenAddress(host=str(host), port=int(port))
        served = "/livez, /readyz, /healthz, /metrics" + (" and /console/" if self.console else "")
        log.info(f"serving {served}", extra={"address": str(self.bound)})
        return self.bound

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WatchServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
