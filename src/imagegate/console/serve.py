"""Mounting the console on an aiohttp application, and ``imagegate console``'s own server."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from imagegate.console.app import PREFIX, Console, console_app
from imagegate.domain.listen import ListenAddress
from imagegate.errors import ConfigError

log = logging.getLogger("imagegate.console")


def mount(app: web.Application, console: Console, *, refresh: bool = True) -> None:
    """``/console/...`` on ``app`` (``/console`` redirects there)."""

    async def to_console(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/catalogue")

    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX, console_app(console, refresh=refresh))


async def serve(console: Console, address: ListenAddress, *, stop: asyncio.Event) -> None:
    """Serve the console (and ``/`` redirecting to it) until ``stop`` is set."""
    app = web.Application()

    async def root(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/catalogue")

    app.router.add_get("/", root)
    mount(app, console)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, address.host, address.port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"cannot listen on {address}: {exc.strerror or exc}; choose another address "
            "(console.listen or --listen) or free the port"
        ) from exc
    host, port = runner.addresses[0][:2]
    shown = "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104
    url = f"http://{ListenAddress(str(shown), int(port))}{PREFIX}/"
    log.info("console started", extra={"url": url})
    print(f"imagegate console: serving {url} (Ctrl-C stops)", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
