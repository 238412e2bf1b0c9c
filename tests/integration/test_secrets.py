"""With --debug on, every command leaks no password, token, JWT or webhook URL: not on stdout,
not on stderr (logs included), not in the state database, not in the plan JSON."""

from __future__ import annotations

import base64
import json
import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from imagegate.cli.main import main
from imagegate.errors import EXIT_AUTH
from tests.support.bgserver import BackgroundServer
from tests.support.fake_hub import FakeHub
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.")
WEBHOOK_SECRET = "T0K3N-hook-s3cr3t-9d2f"
TARGET_PASSWORD = "correct-horse-1"  # the basic_registry fixture's password
HUB_PASSWORD = "olivia-hub-pw-77"


@dataclass
class Hook:
    status: int = 200
    calls: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(request.path)
        await request.read()
        return web.Response(status=self.status)


@pytest.fixture
def hook() -> Iterator[tuple[Hook, BackgroundServer]]:
    receiver = Hook()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    server = BackgroundServer(app).start()
    try:
        yield receiver, server
    finally:
        server.stop()


@dataclass
class Leaks:
    """Every secret of the world, and where to look for them."""

    secrets: list[str]
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (what, text)

    def add(self, what: str, text: str) -> None:
        self.outputs.append((what, text))

    def found(self, extra: Sequence[tuple[str, str]] = ()) -> list[str]:
        out = []
        for what, text in [*self.outputs, *extra]:
            for secret in self.secrets:
                if secret in text:
                    out.append(f"{what}: contains {secret[:6]}...")
            jwt = JWT.search(text)
            if jwt:
                out.append(f"{what}: contains a JWT {jwt[0][:16]}...")
        return out


def b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_secret_anywhere_with_debug(
    token_registry,
    basic_registry: RegistryServer,
    image_factory: ImageFactory,
    hook,
    docker_config,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    receiver, hook_server = hook
    webhook_url = f"{hook_server.url}/services/{WEBHOOK_SECRET}"
    img = image_factory.multiarch(platforms=("linux/amd64",))
    Pusher(
        token_registry.url, username=token_registry.username, password=token_registry.password
    ).push_image("team/app", "1", img)
    # the source's password lives in the Docker config; the target's in an env var
    docker_config({token_registry.host: (token_registry.username, token_registry.password)})
    monkeypatch.setenv("IG_TARGET_PASSWORD", TARGET_PASSWORD)
    monkeypatch.setenv("IG_WEBHOOK", webhook_url)
    db = tmp_path / "state.db"
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            target:
              registry: {basic_registry.host}
              namespace: acme
            registries:
              "{basic_registry.host}":
                username: mirror-bot
                password: ${{IG_TARGET_PASSWORD}}
            state: {db}
            notify:
              webhooks:
                - url: ${{IG_WEBHOOK}}
            images:
              - source: {token_registry.host}/team/app
                tags: ["1"]
            """
        )
    )
    leaks = Leaks(
        secrets=[
            token_registry.password,
            TARGET_PASSWORD,
            HUB_PASSWORD,
            WEBHOOK_SECRET,
            webhook_url,
            b64(token_registry.username, token_registry.password),
            b64("mirror-bot", TARGET_PASSWORD),
        ]
    )

    def run(*argv: str, expect: int | None = 0, fmt: str = "auto") -> str:
        code = main(["--debug", "--log-format", fmt, *argv])
        out, err = capsys.readouterr()
        leaks.add(f"{argv[0]} stdout", out)
        leaks.add(f"{argv[0]} stderr", err)
        if expect is not None:
            assert code == expect, (argv, out, err)
        return out

    c = str(cfg)
    plan_json = run("plan", "-c", c, "--output", "json")
    assert json.loads(plan_json)["actions"]
    run("plan", "-c", c)
    summary = json.loads(run("sync", "-c", c, "--output", "json"))
    assert summary["copied"] == 1  # the run did real, authenticated work on both sides
    assert receiver.calls, "the webhook was not called: nothing was proved about its URL"
    run("sync", "-c", c, fmt="text")
    run("status", "-c", c)
    run("status", "-c", c, "--output", "json")
    run("history", "-c", c)
    run("history", "-c", c, "--runs", "--output", "json")
    # the same with failures: a wrong target password and a failing webhook
    monkeypatch.setenv("IG_TARGET_PASSWORD", "wrong-" + TARGET_PASSWORD)
    leaks.secrets.append("wrong-" + TARGET_PASSWORD)
    receiver.status = 404  # refused, not retried: keeps the test fast
    Pusher(
        token_registry.url, username=token_registry.username, password=token_registry.password
    ).push_image("team/app", "1", image_factory.multiarch(platforms=("linux/amd64",)))
    # every failed image failed on credentials: exit 4 (EXIT_AUTH), not the generic 1
    run("sync", "-c", c, expect=EXIT_AUTH)
    run("sync", "-c", c, expect=EXIT_AUTH, fmt="text")
    run("plan", "-c", c, "--output", "json", expect=None)
    # a one-off copy with Docker config credentials on both sides
    docker_config(
        {
            token_registry.host: (token_registry.username, token_registry.password),
            basic_registry.host: ("mirror-bot", TARGET_PASSWORD),
        }
    )
    run("copy", f"{token_registry.host}/team/app:1", f"{basic_registry.host}/other/app:1")
    run("schema")

    # Docker Hub commands against the Hub double: a password turned into a JWT session
    with FakeHub() as fake:
        fake.model.add_user("olivia", HUB_PASSWORD)
        fake.model.add_org("acme", owners=("olivia",))
        monkeypatch.setenv("IMAGEGATE_HUB_TOKEN", HUB_PASSWORD)
        hub = ["--hub-url", fake.base_url]
        run("doctor", "--org", "acme", "--username", "olivia", *hub)
        run("classify", "library/nginx", "someone/tool", *hub, expect=None)
        monkeypatch.setenv("IMAGEGATE_HUB_TOKEN", "wrong-" + HUB_PASSWORD)
        leaks.secrets.append("wrong-" + HUB_PASSWORD)
        run("doctor", "--org", "acme", "--username", "olivia", *hub, expect=4)

    logs = "".join(text for what, text in leaks.outputs if "stderr" in what)
    assert '"level": "debug"' in logs, "no debug records: --debug was not in effect"
    state_files = [p for p in tmp_path.iterdir() if p.name.startswith("state.db")]
    stored = [(p.name, p.read_bytes().decode("latin-1")) for p in state_files]
    assert stored and any("copied" in text for _, text in stored)
    assert not leaks.found(stored)
    # the checks can see a secret: the same scan over a leaking text finds it
    assert leaks.found([("probe", f"token {token_registry.password}")])
    assert leaks.found([("probe", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig")])
