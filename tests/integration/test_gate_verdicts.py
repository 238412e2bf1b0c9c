"""Stored verdicts of the verification gates, end to end (real registries, real SQLite, the
CLI): a digest is verified once per policy; a failing one is blocked in the pure plan, shown by
plan, status and the metrics, and not copied while the mirror stays on its last good digest;
approving a failed digest needs --override-gate --reason, recorded in the lock file and the
audit log; the console's seam returns the stored verdicts."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.config.load import load_config
from imagegate.config.lockfile import parse_lock
from imagegate.console.seams import VerdictResult, decide_one, needs_override, verdicts_for
from imagegate.domain.decisions import DecisionKind
from imagegate.domain.digest import Digest
from imagegate.domain.records import EventKind, PendingStatus
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from imagegate.run.sync import run_sync
from imagegate.state import open_state
from imagegate.watch.metrics import SyncStateLabel, WatchMetrics
from imagegate.watch.service import sync_state
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import cli, write_allowlist

# The scanner: counts its invocations (one line per run in calls.txt) and fails the digests
# listed in bad.txt.
SCANNER = """
import sys, pathlib
here = pathlib.Path(sys.argv[1])
digest = sys.argv[2]
with open(here / "calls.txt", "a") as f:
    f.write(digest + "\\n")
bad = (here / "bad.txt").read_text() if (here / "bad.txt").exists() else ""
if digest in bad:
    print("CRITICAL: 3 vulnerabilities")
    sys.exit(1)
print("clean")
"""


@pytest.fixture
def world(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    image_factory: ImageFactory,
    tmp_path: Path,
) -> SimpleNamespace:
    (tmp_path / "scan.py").write_text(SCANNER)
    up = Pusher(source_registry.url)
    scanner = json.dumps([sys.executable, str(tmp_path / "scan.py"), str(tmp_path), "{digest}"])
    cfg = tmp_path / "imagegate.yaml"

    def allowlist(*, policy: str = "auto", lock: bool = False) -> None:
        write_allowlist(
            cfg,
            target=target_registry.host,
            extra=(
                f"defaults:\n  verify:\n    scanner:\n      command: {scanner}\n"
                + ("lock: imagegate.lock\n" if lock else "")
            ),
            images=f"""
                - source: {source_registry.host}/up/app
                  tags: ["1.0"]
                  policy: {policy}
            """,
        )

    return SimpleNamespace(
        up=up,
        target=Pusher(target_registry.url),
        cfg=str(cfg),
        allowlist=allowlist,
        state=tmp_path / "state.db",
        lock=tmp_path / "imagegate.lock",
        calls=tmp_path / "calls.txt",
        bad=tmp_path / "bad.txt",
        make=image_factory.image,
    )


def scans(w: SimpleNamespace) -> list[str]:
    return w.calls.read_text().split() if w.calls.exists() else []


def target_digest(w: SimpleNamespace) -> str | None:
    return w.target.head_manifest("acme/app", "1.0")  # type: ignore[no-any-return]


def failed_events(w: SimpleNamespace) -> list[dict[str, object]]:
    with open_state(w.state, readonly=True) as store:
        return [dict(e.detail) for e in store.events(kind=EventKind.FAILED)]


def test_a_failed_verdict_is_stored_blocks_the_plan_and_the_mirror_stays(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    w.allowlist()
    good = w.up.push_image("up/app", "1.0", w.make())
    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code == 0, err
    assert scans(w) == [good] and target_digest(w) == good

    # Upstream moves to a digest the scanner fails: verified once during sync, not copied.
    bad = w.up.push_image("up/app", "1.0", w.make())
    w.bad.write_text(bad)
    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code != 0 and "blocked by a verification gate" in err, err
    assert scans(w) == [good, bad] and target_digest(w) == good

    # The stored verdict: plan shows the block with its reason, without running the scanner.
    code, out, err = cli(capsys, "plan", "-c", w.cfg, "--refresh", "--output", "json")
    assert code == 0, err
    [action] = [a for a in json.loads(out)["actions"] if a["tag"] == "1.0"]
    assert action["action"] == "blocked" and action["digest"] == bad
    assert "exited 1" in action["gate"] and action["mirrored_digest"] == good
    code, out, _ = cli(capsys, "plan", "-c", w.cfg, "--refresh")
    assert "blocked by a verification gate" in out
    code, out, _ = cli(capsys, "plan", "-c", w.cfg, "--refresh", "--output", "markdown")
    assert "blocked (gate)" in out
    code, out, err = cli(capsys, "status", "-c", w.cfg, "--refresh", "--output", "json")
    [tag] = [t for t in json.loads(out)["tags"] if t["tag"] == "1.0"]
    assert tag["status"] == "blocked" and "exited 1" in tag["reason"], tag
    assert scans(w) == [good, bad]

    # The next sync uses the stored verdict: no scanner run, no copy, an audit event with
    # the gate, and the metrics count the tag as blocked.
    config = load_config(w.cfg)

    async def once() -> object:
        creds = CredentialStore.empty()
        async with RegistryClient(registries=RegistrySettings(), credentials=creds) as client:
            with open_state(w.state) as store, store.lock():
                return await run_sync(config, client, store, refresh=True)

    report = asyncio.run(once())
    assert scans(w) == [good, bad] and target_digest(w) == good
    assert [f.tag for f in report.outcome.failures] == ["1.0"]  # type: ignore[attr-defined]
    assert any("exited 1" in str(d.get("gate")) for d in failed_events(w))
    metrics = WatchMetrics()
    state = sync_state(report)  # type: ignore[arg-type]
    metrics.set_sync_state(images=state.images(), tags=state.tags(), pending_changes=0)
    assert state.tags()[SyncStateLabel.BLOCKED] == 1
    assert 'imagegate_tags{state="blocked"} 1.0' in metrics.render()


def test_approving_a_failed_digest_needs_an_override_recorded_in_lock_and_log(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    w.allowlist(policy="review", lock=True)
    bad = w.up.push_image("up/app", "1.0", w.make())
    w.bad.write_text(bad)
    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code == 0, err
    assert scans(w) == [bad] and target_digest(w) is None  # held for review, verified once

    # plan shows the failed verdict with the pending change, and how to override it.
    code, out, _ = cli(capsys, "plan", "-c", w.cfg, "--refresh", "--output", "json")
    [held] = [a for a in json.loads(out)["actions"] if a["tag"] == "1.0"]
    assert held["action"] == "pending" and "exited 1" in held["gate_failed"]

    # The console's seam returns the stored verdict: the review form asks for an override.
    with open_state(w.state, readonly=True) as store:
        verdicts = verdicts_for(store, "acme/app", Digest.parse(bad))
    assert needs_override(verdicts)
    assert [v.gate for v in verdicts if v.result is VerdictResult.FAILED] == ["scanner"]

    code, _, err = cli(capsys, "approve", "-c", w.cfg, f"acme/app:1.0@{bad}")
    assert code != 0 and len(err.strip().splitlines()) == 1, err
    assert "scanner gate" in err and "--override-gate" in err
    code, _, err = cli(capsys, "approve", "-c", w.cfg, f"acme/app:1.0@{bad}", "--override-gate")
    assert code != 0 and "--reason" in err
    assert not w.lock.exists() or not parse_lock(w.lock).entries  # nothing was decided

    code, _, err = cli(
        capsys,
        "approve",
        "-c",
        w.cfg,
        f"acme/app:1.0@{bad}",
        "--override-gate",
        "--reason",
        "CVE not reachable",
        "--by",
        "alice",
    )
    assert code == 0, err
    [override] = [d for d in parse_lock(w.lock).entries if d.kind is DecisionKind.OVERRIDE]
    assert (override.by, override.gate, str(override.digest)) == ("alice", "scanner", bad)
    assert override.reason == "CVE not reachable"
    with open_state(w.state, readonly=True) as store:
        [event] = store.events(kind=EventKind.GATE_OVERRIDDEN)
    assert (event.actor, event.tag, str(event.digest)) == ("alice", "1.0", bad)

    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code == 0, err
    assert target_digest(w) == bad and scans(w) == [bad]


def test_the_console_decision_passes_the_override_and_lands_in_the_lock_file(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    w.allowlist(policy="review", lock=True)
    bad = w.up.push_image("up/app", "1.0", w.make())
    w.bad.write_text(bad)
    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code == 0, err
    config = load_config(w.cfg)
    with open_state(w.state) as store:
        [change] = store.pending(PendingStatus.PENDING)
        decided = decide_one(
            store, config, change, PendingStatus.APPROVED, by="bob", reason="", override="known"
        )
    assert decided.status is PendingStatus.APPROVED
    kinds = {(d.kind, d.by) for d in parse_lock(w.lock).entries}
    assert {(DecisionKind.APPROVE, "bob"), (DecisionKind.OVERRIDE, "bob")} <= kinds


def test_pending_shows_the_stored_verdicts_and_what_approving_a_failed_one_needs(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    w.allowlist(policy="review")
    bad = w.up.push_image("up/app", "1.0", w.make())
    w.bad.write_text(bad)
    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code == 0, err

    code, out, err = cli(capsys, "pending", "-c", w.cfg)
    assert code == 0, err
    assert "failed: scanner gate" in out and "exited 1" in out, out
    assert "--override-gate --reason" in out
    code, out, err = cli(capsys, "pending", "-c", w.cfg, "--output", "json")
    assert code == 0, err
    [change] = json.loads(out)["changes"]
    [verdict] = change["verdicts"]
    assert (verdict["passed"], verdict["gate"]) == (False, "scanner")
    assert "exited 1" in verdict["reason"] and verdict["verified_at"]
    assert scans(w) == [bad]  # pending reads the stored verdict: the scanner did not run again

    # A digest that passes shows its evidence, and no override line.
    good = w.up.push_image("up/app", "1.0", w.make())
    code, _, err = cli(capsys, "sync", "-c", w.cfg, "--refresh")
    assert code == 0, err
    code, out, err = cli(capsys, "pending", "-c", w.cfg, "--output", "json")
    by_digest = {c["new_digest"]: c["verdicts"] for c in json.loads(out)["changes"]}
    [passed] = by_digest[good]
    assert passed["passed"] is True and passed["gate"] is None
    assert any("exit" in e for e in passed["evidence"]), passed
    code, out, _ = cli(capsys, "pending", "-c", w.cfg, "acme/app")
    good_block = next(
        b for b in out.split("\n\n") if any(ln.split() == ["new", good] for ln in b.splitlines())
    )
    assert "gate" in good_block and "passed (" in good_block
    assert "--override-gate" not in good_block
