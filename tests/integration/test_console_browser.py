"""The web console in a real headless Chromium, against real registries and the real
`imagegate console` process: a developer copies a pull line, an approver approves and the next
sync mirrors exactly that digest, a viewer's approve and a forged cross-site POST are refused,
and a label holding <script> is shown as text. Each page is screenshotted."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from aiohttp import web

from imagegate.state import PendingStatus, open_state
from tests.support.bgserver import BackgroundServer
from tests.support.console import (
    ConsoleProcess,
    console_section,
    have_chromium,
    launch,
    off_loop,
    shoot,
    sign_in,
)
from tests.support.images import build_image, build_index, oci_labels, random_layer
from tests.support.pusher import Pusher
from tests.support.world import cli, push_tags, write_allowlist

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs Debian's chromium")

HOSTILE = "<script>window.pwned=1</script><b>bold</b>"


@pytest.fixture
def world(source_registry, target_registry, tmp_path, image_factory, capsys):
    """redis (auto, 7.4 mirrored) and nginx (review: 1.27 pending, with a hostile label)."""
    up = Pusher(source_registry.url)
    push_tags(up, {"library/redis": ["7.4"]}, image_factory.multiarch)
    labels = {**oci_labels("1.27.0"), "org.opencontainers.image.title": HOSTILE}
    pushed = push_tags(
        up,
        {"library/nginx": ["1.27"]},
        lambda: image_factory.multiarch(labels=labels, platforms=("linux/amd64",)),
    )
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        extra=console_section(tmp_path),
        images=f"""
            - source: {source_registry.host}/library/redis
              tags: ["7.4"]
            - source: {source_registry.host}/library/nginx
              tags: ["1.27"]
              policy: review
        """,
    )
    code, _, err = cli(capsys, "sync", "-c", str(cfg), "--output", "json")
    assert code == 0, err
    console = ConsoleProcess(cfg, tmp=tmp_path)
    yield SimpleNamespace(
        cfg=cfg,
        up=up,
        tgt=target_registry.host,
        target=Pusher(target_registry.url),
        nginx=pushed[("library/nginx", "1.27")],
        console=console,
        state=tmp_path / "state.db",
    )
    assert console.stop() == 0


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _pending(w):
    with open_state(w.state, readonly=True) as store:
        return store.pending(PendingStatus.PENDING)


def test_anonymous_gets_only_the_sign_in_page(world, browser):
    page = browser.new_page()
    page.goto(world.console.url + "/catalogue")
    assert page.url == world.console.url + "/signin"
    assert "redis" not in page.content() and page.locator("input[name=password]").count() == 1
    shoot(page, "signin")


def test_developer_finds_an_image_and_copies_its_pull_line(world, browser):
    context = browser.new_context(viewport={"width": 1100, "height": 650})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=world.console.base)
    page = context.new_page()
    sign_in(page, world.console.url, "dev")
    page.fill("#search", "redis")
    page.click("form.filters button[type=submit]")
    rows = page.locator("tr.tag")
    assert rows.count() == 1  # nginx is filtered out
    line = f"docker pull {world.tgt}/acme/redis:7.4"
    assert rows.first.locator("code.pull").inner_text() == line
    rows.first.locator("button.copy").first.click()
    page.wait_for_function("document.getElementById('copied').textContent.length > 0")
    assert page.evaluate("navigator.clipboard.readText()") == line
    shoot(page, "catalogue")


def test_approver_approves_and_the_next_sync_mirrors_that_digest(world, browser, capsys):
    [change] = _pending(world)
    assert world.target.head_manifest("acme/nginx", "1.27") is None
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    sign_in(page, world.console.url, "ann")
    page.goto(world.console.url + "/review")
    section = page.locator(f"#change-{change.id}")
    assert section.locator("code.new-digest").inner_text() == str(change.new_digest)
    shoot(page, "review")
    section.locator("input[name=reason]").fill("release notes read")
    section.locator("button.approve").click()
    page.wait_for_selector("#done")
    assert _pending(world) == ()
    code, out, err = off_loop(cli, capsys, "sync", "-c", str(world.cfg), "--output", "json")
    assert code == 0, err
    assert world.target.head_manifest("acme/nginx", "1.27") == str(change.new_digest)
    code, out, _ = off_loop(cli, capsys, "history", "-c", str(world.cfg), "--output", "json")
    assert code == 0
    assert any(
        e["kind"] == "approved" and e["actor"] == "ann" and e["reason"] == "release notes read"
        for e in json.loads(out)
    )
    page.goto(world.console.url + "/activity?image=" + f"{world.tgt}/acme/nginx")
    assert page.locator("figure.timeline svg rect").count() >= 1
    shoot(page, "activity")


def test_a_viewers_approve_is_refused(world, browser):
    [change] = _pending(world)
    page = browser.new_page()
    sign_in(page, world.console.url, "dev")
    page.goto(world.console.url + "/review")
    assert page.locator("button.approve").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    response = page.request.post(
        f"{world.console.url}/review/{change.id}",
        form={"csrf": csrf, "decision": "approve", "reason": "sneaky"},
        max_redirects=0,
    )
    assert response.status == 403 and "only approvers decide" in response.text()
    assert [c.id for c in _pending(world)] == [change.id]


def test_a_forged_cross_site_post_is_refused(world, browser):
    """Another origin's page posts an approval in the approver's browser: from another port of
    the same host the session cookie goes along and the CSRF check refuses; from another site
    (localhost) the SameSite cookie stays home: the post is anonymous, sent to sign in."""
    [change] = _pending(world)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, world.console.url, "ann")
    evil = BackgroundServer(_evil_app(f"{world.console.url}/review/{change.id}")).start()
    try:
        page.goto(evil.url + "/")
        page.wait_for_selector("#refused")  # the console's refusal, not a decision
        assert "did not come from this console" in page.inner_text("#refused")
        page.goto(evil.url.replace("127.0.0.1", "localhost") + "/")
        page.wait_for_url(world.console.url + "/**")
    finally:
        evil.stop()
    no_token = page.request.post(
        f"{world.console.url}/review/{change.id}", form={"decision": "approve"}, max_redirects=0
    )
    assert no_token.status == 403
    assert [c.id for c in _pending(world)] == [change.id]


def _evil_app(action: str) -> web.Application:
    async def page(_):
        return web.Response(
            content_type="text/html",
            text=f"""<form id=f method=post action="{action}">
            <input name=decision value=approve><input name=csrf value=guess></form>
            <script>document.getElementById('f').submit()</script>""",
        )

    app = web.Application()
    app.router.add_get("/", page)
    return app


def test_a_label_holding_script_is_shown_as_text(world, browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text))
    sign_in(page, world.console.url, "ann")
    page.goto(world.console.url + "/review")
    texts = page.locator(".label-value").all_inner_texts()
    assert HOSTILE in texts
    assert page.evaluate("window.pwned") is None
    assert page.locator(".label-value b").count() == 0


def _nginx(seed: int, version: str, env: tuple[str, ...] = (), **config: object):
    image = build_image(
        [random_layer(512, seed)],
        env=["PATH=/bin", *env],
        labels=oci_labels(version),
        config_extra=config,
    )
    return build_index([image])


def test_the_review_page_shows_what_changed_in_the_config(world, browser, capsys):
    """nginx 1.27 is approved and mirrored, then moves upstream to an image running as another
    user, exposing another port, with another env variable: the review page says so (the
    env variable's name, never its value)."""
    old = _nginx(7001, "1.27.0", User="nginx", ExposedPorts={"80/tcp": {}})
    new = _nginx(
        7002, "1.27.1", User="root", ExposedPorts={"80/tcp": {}, "2222/tcp": {}},
        env=("SSH_PASSWORD=hunter2",),
    )  # fmt: skip
    world.up.push_image("library/nginx", "1.27", old)
    sync = ("sync", "-c", str(world.cfg), "--output", "json")
    approve = ("approve", "-c", str(world.cfg), f"acme/nginx:1.27@{old.digest}")
    for args in (sync, approve, sync):
        code, _, err = off_loop(cli, capsys, *args)
        assert code == 0, err
    world.up.push_image("library/nginx", "1.27", new)
    code, _, err = off_loop(cli, capsys, *sync)
    assert code == 0, err
    [change] = [c for c in _pending(world) if str(c.new_digest) == new.digest]
    assert str(change.old_digest) == old.digest
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    sign_in(page, world.console.url, "ann")
    page.goto(world.console.url + "/review")
    section = page.locator(f"#change-{change.id}")
    user = section.locator(".config-change[data-field=user]")
    assert user.locator("code.before").inner_text() == "nginx"
    assert user.locator("code.after").inner_text() == "root"
    ports = section.locator(".config-change[data-field=exposed_ports] code.added")
    assert ports.all_inner_texts() == ["+2222/tcp"]
    env = section.locator(".config-change[data-field=env_names]").inner_text()
    assert "+SSH_PASSWORD" in env and "hunter2" not in page.content()
    page.evaluate(f"document.getElementById('change-{change.id}').scrollIntoView()")
    shoot(page, "review-changes")
