"""The console as an aiohttp sub-application: :func:`console_app` (mounted at ``/console/``).

One :class:`Console` per process holds what outlives a request: the allowlist (re-read when the
file changes; a broken edit keeps the last valid one, as ``watch`` does), the signing key, the
users file, the snapshot refresher and the sign-in throttle. Every request opens the state
store (read-only to look, writable to decide: deciding takes no run lock, like the CLI).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from aiohttp import web

from imagegate.config.load import load_config
from imagegate.console.auth import COOKIE, Identity, identify, set_session_cookie
from imagegate.console.passwords import read_users
from imagegate.console.sessions import Signer, load_secret
from imagegate.console.snapshot import Refresher
from imagegate.domain.allowlist import Config
from imagegate.domain.console import ConsoleSettings
from imagegate.errors import ConfigError, ImagegateError
from imagegate.run.wiring import state_for
from imagegate.state import SqliteStateStore

PREFIX = "/console"
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
THROTTLE_FAILURES = 5  # failed sign-ins of one name within THROTTLE_WINDOW ...
THROTTLE_WINDOW = 300.0  # ... lock that name out for the rest of the window


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    config_path: Path
    state: str | None = None  # overrides `state:`


@dataclass(slots=True)
class _Cached:
    key: tuple[int, int] | None = None
    value: object = None


@dataclass
class Console:
    options: ConsoleOptions
    config: Config
    signer: Signer
    env: jinja2.Environment
    refresher: Refresher = field(init=False)
    _config_key: tuple[int, int] | None = None
    config_error: str = ""
    _users: _Cached = field(default_factory=_Cached)
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refresher = Refresher(lambda: (self.current(), self.open_state(readonly=True)))

    @property
    def settings(self) -> ConsoleSettings:
        return self.config.console or ConsoleSettings()

    def current(self) -> Config:
        """The allowlist, re-read when the file changed; a broken edit keeps the last one."""
        try:
            info = self.options.config_path.stat()
            key = (info.st_mtime_ns, info.st_size)
        except OSError:
            return self.config
        if key != self._config_key:
            try:
                config = load_config(self.options.config_path)
                if config.console is None:
                    raise ConfigError("the 'console:' section was removed; keeping the last one")
                self.config, self.config_error = config, ""
            except ImagegateError as exc:
                self.config_error = str(exc)
            self._config_key = key
        return self.config

    def open_state(self, *, readonly: bool) -> contextlib.AbstractContextManager[SqliteStateStore]:
        return state_for(self.config, self.options.state, readonly=readonly)

    def users(self) -> dict[str, str]:
        path = self.settings.users_file
        if path is None:
            return {}
        try:
            info = path.stat()
            key = (info.st_mtime_ns, info.st_size)
        except OSError:
            key = None
        if key is None or key != self._users.key:
            self._users = _Cached(key, read_users(path))
        users = self._users.value
        assert isinstance(users, dict)
        return users

    def throttled(self, name: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self._failures.get(name, []) if now - t < THROTTLE_WINDOW]
        self._failures[name] = recent
        return len(recent) >= THROTTLE_FAILURES

    def failed_sign_in(self, name: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()  # bounded memory under a flood of names
        self._failures.setdefault(name, []).append(time.monotonic())


CONSOLE_KEY = web.AppKey("console", Console)
_IDENTITY: contextvars.ContextVar[Identity] = contextvars.ContextVar("console_identity")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def console_of(request: web.Request) -> Console:
    return request.config_dict[CONSOLE_KEY]


def identity_of(_: web.Request) -> Identity:
    """Who asks (set by the middleware for the request's task)."""
    return _IDENTITY.get()


def set_identity(_: web.Request, who: Identity) -> None:
    """A sign-in or sign-out: the middleware then sends the new session's cookie."""
    _IDENTITY.set(who)


@web.middleware
async def _hygiene(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is asking (before the handler), security headers and the session cookie (after)."""
    console = console_of(request)
    console.current()
    who = identify(request, console.settings, console.signer)
    _IDENTITY.set(who)
    response: web.StreamResponse
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # answered as a plain response: headers and cookie added
        response = web.Response(
            status=exc.status, body=exc.body, headers=exc.headers, reason=exc.reason
        )
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # A new cookie after a sign-in or sign-out, or for a GET that came without a valid one;
    # never for a POST that came without it (a cross-site form must not replace a session).
    session = identity_of(request).session
    if session is not who.session or (request.method == "GET" and not _had_cookie(request)):
        set_session_cookie(response, request, console.settings, console.signer, session)
    return response


def _had_cookie(request: web.Request) -> bool:
    cookie = request.cookies.get(COOKIE)
    return console_of(request).signer.load(cookie, time.time()) is not None


def make_console(options: ConsoleOptions, config: Config) -> Console:
    if config.console is None:
        raise ConfigError(
            f"{config.path} has no 'console:' section; add one naming who may sign in "
            "(see docs/console.md)"
        )
    secret = load_secret(config.console.secret_file, config.state)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("imagegate.console", "templates"),
        autoescape=True,  # every {{ }} is escaped: labels and tags are attacker-controlled
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    console = Console(options=options, config=config, signer=Signer(secret), env=env)
    if config.console.users_file is not None:
        console.users()  # a broken users file fails at start, not at the first sign-in
    return console


def console_app(console: Console, *, refresh: bool = True) -> web.Application:
    """The sub-application; mount it with ``app.add_subapp(PREFIX, console_app(...))``.
    ``refresh``: observe the registries in the background (every ``console.refresh``)."""
    from imagegate.console import views  # noqa: PLC0415 (views import this module)

    app = web.Application(middlewares=[_hygiene], client_max_size=64 * 1024)
    app[CONSOLE_KEY] = console
    views.add_routes(app)

    def interval() -> float:  # read each time: an edited allowlist may change it
        return console.settings.refresh.total_seconds()

    async def start(_: web.Application) -> None:
        if refresh:
            console.refresher.start(interval)

    async def stop(_: web.Application) -> None:
        await console.refresher.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
