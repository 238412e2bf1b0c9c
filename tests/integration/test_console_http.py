"""The console's web hygiene over HTTP (an in-process server, no browser): the proxy header
counts only from trusted addresses, cookies are HttpOnly/SameSite (and Secure behind HTTPS),
every page has a Content-Security-Policy, no page carries a secret, and `imagegate watch`
serves the console beside /healthz and /metrics."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from imagegate.config.load import load_config
from imagegate.console.app import ConsoleOptions, make_console
from imagegate.console.serve import mount
from imagegate.console.sessions import SECRET_FILE_NAME
from tests.support.bgserver import BackgroundServer
from tests.support.console import USERS, console_section
from tests.support.watch_process import WatchProcess, write_config
from tests.support.world import write_allowlist


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None):
    """(status, headers, body) without following redirects."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with opener.open(request, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def serve(tmp_path: Path, registry: str, *, trusted: str | None) -> BackgroundServer:
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=registry,
        extra=console_section(tmp_path, proxy_trusted=trusted),
        images=f"""
            - source: {registry}/library/redis
              tags: ["7.4"]
        """,
    )
    console = make_console(ConsoleOptions(cfg), load_config(cfg))
    app = web.Application()
    mount(app, console, refresh=False)
    return BackgroundServer(app).start()


@pytest.fixture
def trusting(tmp_path, registry):
    server = serve(tmp_path, registry.host, trusted="127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def distrusting(tmp_path, registry):
    server = serve(tmp_path, registry.host, trusted="10.9.9.9")
    yield server
    server.stop()


def test_the_proxy_header_is_believed_from_a_trusted_address(trusting):
    status, headers, body = fetch(trusting.url + "/console/catalogue", {"X-Forwarded-User": "dev"})
    assert status == 200 and "acme/redis" in body and '<span id="user">dev</span>' in body
    assert (
        "Content-Security-Policy" in headers
        and "default-src 'none'" in headers["Content-Security-Policy"]
    )
    status, _, body = fetch(trusting.url + "/console/catalogue", {"X-Forwarded-User": "mallory"})
    assert status == 403 and "acme/redis" not in body  # signed in, but no role


def test_the_proxy_header_is_ignored_from_any_other_address(distrusting):
    status, headers, body = fetch(
        distrusting.url + "/console/catalogue", {"X-Forwarded-User": "ann"}
    )
    assert status == 302 and headers["Location"] == "/console/signin"
    status, _, body = fetch(distrusting.url + "/console/signin", {"X-Forwarded-User": "ann"})
    assert status == 401 and "acme/redis" not in body and "ann" not in body


def test_cookies_are_httponly_samesite_and_secure_behind_https(trusting):
    _, headers, _ = fetch(trusting.url + "/console/signin")
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    _, headers, _ = fetch(
        trusting.url + "/console/signin",
        {"X-Forwarded-Proto": "https", "X-Forwarded-User": "dev"},
    )
    assert "Secure" in headers["Set-Cookie"]


def test_a_sign_in_with_a_wrong_password_is_refused_and_no_secret_is_shown(trusting, tmp_path):
    _, headers, body = fetch(trusting.url + "/console/signin")
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found is not None
    csrf = found.group(1)
    form = f"csrf={csrf}&user=ann&password=wrong".encode()
    status, _, body = fetch(trusting.url + "/console/signin", {"Cookie": cookie}, form)
    assert status == 401 and "wrong password" in body
    form = f"csrf={csrf}&user=ann&password={USERS['ann'][1]}".encode()
    status, headers, _ = fetch(trusting.url + "/console/signin", {"Cookie": cookie}, form)
    assert status == 302 and headers["Location"] == "/console/catalogue"
    session = headers["Set-Cookie"].split(";", 1)[0]
    assert session != cookie  # a fresh session id at sign-in
    secret = (tmp_path / SECRET_FILE_NAME).read_text().strip()
    hashes = (tmp_path / "console-users").read_text()
    for page in ("catalogue", "review", "activity"):
        status, _, body = fetch(trusting.url + f"/console/{page}", {"Cookie": session})
        assert status == 200
        assert secret not in body and USERS["ann"][1] not in body
        assert "scrypt$" not in body and hashes.splitlines()[1].split(":")[1] not in body


def test_watch_serves_the_console_beside_the_probes(tmp_path, registry):
    cfg = tmp_path / "imagegate.yaml"
    write_config(
        cfg,
        registry.host,
        registry.host,
        "- source: {src}/library/redis\n  tags: ['7.4']\n",
        extra=console_section(tmp_path),
    )
    watch = WatchProcess(cfg, tmp=tmp_path)
    try:
        status, body = watch.get("/console/signin")
        assert status == 401 and 'name="password"' in body
        assert watch.get("/healthz")[0] in (200, 503)
    finally:
        assert watch.stop() == 0
