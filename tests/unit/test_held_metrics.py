"""/metrics keeps tags held on purpose (pinned, rejected, pending review) apart from drifted."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference
from imagegate.plan.planner import (
    CopyReason,
    CopyTag,
    HoldForReview,
    Plan,
    ReportMoved,
    ReportRejected,
    SkipTag,
)
from imagegate.plan.status import is_held
from imagegate.run.execute import Failure, Outcome
from imagegate.run.sync import RunReport
from imagegate.state import RunResult
from imagegate.watch.metrics import WatchMetrics
from imagegate.watch.service import sync_state

A, B = Digest.parse("sha256:" + "a" * 64), Digest.parse("sha256:" + "b" * 64)
SRC, DST = parse_reference("up.example/x/app"), parse_reference("mirror.example/acme/app")


def report(*actions: object, failures: tuple[Failure, ...] = ()) -> RunReport:
    keys = sorted({a.image for a in actions})  # type: ignore[attr-defined]
    outcome = Outcome(failures=list(failures))
    return RunReport(
        run_id=1,
        plan=Plan(tuple(actions)),  # type: ignore[arg-type]
        outcome=outcome,
        result=RunResult.SUCCESS,
        entries=dict.fromkeys(keys),  # type: ignore[arg-type]
        seconds=0.0,
    )


def test_holds_are_not_out_of_sync_and_drift_wins_in_an_image():
    actions = (
        SkipTag("ok", "1", A),
        ReportMoved("pinned", "1", A, B),  # pinned: upstream moved, on purpose
        ReportRejected("rejected", "1", B),  # rolled back / rejected
        HoldForReview("review", "1", A, B, already_pending=True),
        CopyTag("drifted", "1", SRC.with_digest(B), DST.with_tag("1"), B, CopyReason.REPAIR),
        SkipTag("mixed", "1", A),
        ReportMoved("mixed", "2", A, B),
        CopyTag("mixed", "3", SRC.with_digest(B), DST.with_tag("3"), B, CopyReason.MOVED),
        SkipTag("failed", "1", A),
    )
    # After the run a copy that succeeded is in sync; one that failed is out of sync.
    failed = (
        Failure("failed", "1", "boom"),
        Failure("drifted", "1", "repair failed"),
        Failure("mixed", "3", "update failed"),
    )
    state = sync_state(report(*actions, failures=failed))
    assert (state.tags_in_sync, state.tags_held, state.tags_out_of_sync) == (2, 4, 3)
    # ok | pinned, rejected, review | drifted, mixed (a failed tag beside a pin), failed
    assert (state.images_in_sync, state.images_held, state.images_out_of_sync) == (1, 3, 3)
    assert [is_held(a) for a in actions[:5]] == [False, True, True, True, False]

    metrics = WatchMetrics()
    metrics.set_sync_state(images=state.images(), tags=state.tags(), pending_changes=1)
    values = {
        (s.name, s.labels.get("state")): s.value
        for f in text_string_to_metric_families(metrics.render())
        for s in f.samples
    }
    assert values[("imagegate_tags", "held")] == 4
    assert values[("imagegate_tags", "out_of_sync")] == 3
    assert values[("imagegate_images", "held")] == 3
    assert values[("imagegate_images", "out_of_sync")] == 3


def test_only_holds_keep_an_alert_quiet():
    state = sync_state(report(ReportMoved("app", "7", A, B), ReportRejected("app", "8", B)))
    assert state.tags_out_of_sync == 0 and state.images_out_of_sync == 0
    assert state.tags_held == 2 and state.images_held == 1
