"""The demo's story: seed upstream, plan, sync, change upstream, plan and sync again."""

from __future__ import annotations

from pathlib import Path

from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

from demo import upstream
from demo.allowlist import NAMESPACE, DemoAllowlist, write_allowlist
from demo.console import heading, imagegate, say, shown_path
from demo.report import DemoOutcome, parse_sync_output
from imagegate.cli.main import COMMAND_MODULES
from imagegate.errors import EXIT_CHANGES, ImagegateError

STATE_FILE = "state.db"


def available(command: str) -> bool:
    """Whether this build of imagegate has ``command`` (status/history arrive separately)."""
    return f"imagegate.cli.{command}" in COMMAND_MODULES


def _show_tags(tags: tuple[upstream.UpstreamTag, ...]) -> None:
    for t in tags:
        say(f"  {t.name:24} {t.kind:21} {t.digest[:19]}")


def _optional(command: str, cfg: str) -> None:
    if available(command):
        imagegate(command, "-c", cfg)
    else:
        say()
        say(f"(`imagegate {command}` is not in this build yet: skipped)")


def _check(ok: bool, fact: str, checks: list[str]) -> None:
    if not ok:
        raise ImagegateError(f"demo check failed on the organization registry: {fact}")
    checks.append(fact)


def _verify(org: Pusher, pin: str, moved: upstream.UpstreamTag, first_74: str) -> list[str]:
    """Check the outcome on the target with the independent test client."""
    checks: list[str] = []
    redis, loki, tool = f"{NAMESPACE}/redis", f"{NAMESPACE}/loki", f"{NAMESPACE}/tool"
    _check(
        org.head_manifest(redis, "7.4") == moved.digest,
        f"{redis}:7.4 has the new upstream digest {moved.digest[:19]}",
        checks,
    )
    backups = [t for t in org.list_tags(redis) if t.startswith("7.4--prev-")]
    _check(
        len(backups) == 1 and org.head_manifest(redis, backups[0]) == first_74,
        f"its previous digest {first_74[:19]} is kept as {redis}:{backups[0] if backups else '?'}",
        checks,
    )
    _check(
        "3.2.0-rc1" not in org.list_tags(loki) and "3.3.0" in org.list_tags(loki),
        f"{loki} got 3.3.0 and never the release candidate 3.2.0-rc1",
        checks,
    )
    _check(
        org.head_manifest(tool, "1.0") == pin,
        f"{tool}:1.0 is still the pinned {pin[:19]} although upstream moved the tag",
        checks,
    )
    return checks


def run_scenario(workdir: Path, hub: RegistryServer, org: RegistryServer) -> DemoOutcome:
    heading(f'Seeding the "Docker Hub" stand-in ({hub.host}) with sample images')
    seeded = upstream.seed(Pusher(hub.url))
    _show_tags(seeded)
    by_name = {t.name: t for t in seeded}
    pin = by_name[f"{upstream.TOOL}:1.0"].digest

    cfg_path = workdir / "imagegate.yaml"
    write_allowlist(cfg_path, DemoAllowlist(hub.host, org.host, STATE_FILE, "1.0", pin))
    cfg = shown_path(cfg_path)
    heading(f"The allowlist {cfg} (organization registry: {org.host})")
    say(cfg_path.read_text().rstrip())

    heading("Plan: what a sync would change (HEAD requests only; exit code 2 = changes)")
    imagegate("plan", "-c", cfg, "--detailed-exitcode", expect=(EXIT_CHANGES,))
    heading("Sync: copy every platform of every approved tag, digests unchanged")
    first = parse_sync_output(imagegate("sync", "-c", cfg).stdout)
    _optional("status", cfg)
    heading("Plan again: nothing to do (exit code 0)")
    imagegate("plan", "-c", cfg, "--detailed-exitcode")

    heading("Upstream changes: redis 7.4 rebuilt, loki 3.3.0 released, tool 1.0 re-pushed")
    changed = upstream.change(Pusher(hub.url))
    _show_tags(changed)
    heading("Plan with --refresh (tag listings are otherwise reused for a minute)")
    imagegate("plan", "-c", cfg, "--refresh")
    heading("Sync: only the change is copied; shared layers are not sent again")
    second = parse_sync_output(imagegate("sync", "-c", cfg).stdout)
    _optional("history", cfg)

    target = Pusher(org.url)
    checks = _verify(target, pin, changed[0], by_name[f"{upstream.REDIS}:7.4"].digest)
    repos = sorted({f"{NAMESPACE}/{t.repo.rsplit('/', 1)[-1]}" for t in seeded})
    return DemoOutcome(
        upstream_tags=len(seeded),
        upstream_repos=len({t.repo for t in seeded}),
        first=first,
        second=second,
        target_tags=[(r, sorted(target.list_tags(r))) for r in repos],
        checks=checks,
        allowlist=cfg,
        state=shown_path(workdir / STATE_FILE),
    )
