"""Rendering of a Plan (text table and JSON), shared by `plan` and `sync`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from imagegate.cli.common import short
from imagegate.cli.render import table
from imagegate.domain.allowlist import ImageEntry
from imagegate.plan.planner import (
    BlockedByGate,
    CopyReason,
    CopyTag,
    HoldForReview,
    ImageAction,
    KeepUnselected,
    ObserveFailed,
    OrgContext,
    Plan,
    PruneTag,
    ReportMoved,
    ReportRejected,
    ReportVanished,
    SkipTag,
    action_name,
    is_change,
)

# The Docker Hub models are imported when the plan has a Hub section (start-up of `plan` for
# another registry, docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.hub.models import HubAction


def _detail(action: ImageAction) -> tuple[str, str]:
    """(digest column, note column) for one action."""
    match action:
        case CopyTag(reason=CopyReason.NEW):
            return short(action.digest), "new tag"
        case CopyTag(reason=CopyReason.MOVED):
            note = f"moved upstream (was {short(action.old_target_digest)})"
            if action.backup_tag:
                note += f"; old kept as :{action.backup_tag}"
            return short(action.digest), note
        case CopyTag(reason=reason):
            notes = {
                CopyReason.APPROVED: "approved digest",
                CopyReason.PINNED: "pinned digest",
                CopyReason.REPAIR: "target differs from the mirrored digest",
            }
            return short(action.digest), notes.get(reason, str(reason))
        case SkipTag():
            return short(action.digest), ""
        case HoldForReview():
            note = "awaiting review" + (" (already pending)" if action.already_pending else "")
            note += f"; mirrored {short(action.old_digest)}"
            if action.gate_failed:
                note += f"; FAILED a verification gate: {action.gate_failed}"
            return short(action.new_digest), note
        case ReportMoved():
            return short(action.mirrored), f"pinned; upstream moved to {short(action.upstream)}"
        case ReportVanished():
            return short(action.digest), "gone upstream; kept in the mirror"
        case ReportRejected():
            return short(action.digest), "upstream digest was rejected; not mirrored"
        case KeepUnselected():
            return short(action.digest), "no longer selected; kept (prune: false)"
        case PruneTag(backup_of=str(of)):
            return short(action.digest), f"backup of :{of} beyond backup_keep; will be removed"
        case PruneTag():
            return short(action.digest), "no longer selected; will be removed (prune: true)"
        case ObserveFailed():
            return "-", action.message
        case BlockedByGate():
            kept = f"; the mirror stays on {short(action.mirrored)}" if action.mirrored else ""
            return short(action.digest), f"blocked by a verification gate: {action.reason}{kept}"


def _image_label(key: str, entries: Mapping[str, ImageEntry]) -> str:
    entry = entries.get(key)
    if entry is None:
        return key
    return f"{entry.source_text} -> {entry.target.familiar}"


def plan_rows(plan: Plan, entries: Mapping[str, ImageEntry], *, all_rows: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    for action in plan.image_actions:
        if not all_rows and isinstance(action, SkipTag):
            continue
        digest, note = _detail(action)
        tag = action.tag or "*"
        rows.append([_image_label(action.image, entries), tag, action_name(action), digest, note])
    return rows


def render_hub(plan: Plan, org: OrgContext) -> str:
    """The Docker Hub section: ``+`` a write, ``!`` a report; then classification warnings."""
    from imagegate.hub.plan import describe

    steps = plan.hub_steps
    lines = [f"Docker Hub organization {org.org}:"]
    lines += [f"  {'+' if s.is_write else '!'} {describe(s.action)}" for s in steps]
    if not steps:
        lines.append("  in sync (IAM, repositories, visibility, descriptions, teams)")
    lines += [f"warning: {w}" for w in org.warnings]
    return "\n".join(lines)


def render_plan(plan: Plan, entries: Mapping[str, ImageEntry], *, all_rows: bool = False) -> str:
    rows = plan_rows(plan, entries, all_rows=all_rows)
    counts = plan.counts()
    if plan.hub_changes:
        counts["hub-change"] = plan.hub_changes
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "nothing to do"
    tail = "" if plan.org is None else "\n" + render_hub(plan, plan.org)
    if plan.recheck_probes:
        tail = f"\n{recheck_line(plan.recheck_probes)}" + tail
    if not rows and not plan.hub_changes:
        return f"Everything is in sync ({summary})." + tail
    head = "Plan: " + summary
    body = table(rows, headers=("IMAGE", "TAG", "ACTION", "DIGEST", "NOTE")) if rows else ""
    return head + ("\n" + body if body else "") + tail


def recheck_line(due: int) -> str:
    """The plan's referrers re-checks (plan/recheck.py), as a count."""
    digests = "digest is" if due == 1 else "digests are"
    return (
        f"Referrers re-check: {due} mirrored {digests} due (signatures or other referrers "
        "added upstream since are looked for and copied)"
    )


def _hub_json(plan: Plan, org: OrgContext) -> dict[str, object]:
    from imagegate.hub.models import repository_of
    from imagegate.hub.plan import describe, is_write

    def item(a: HubAction) -> dict[str, object]:
        repo = repository_of(a)
        return {
            "action": type(a).__name__,
            "change": is_write(a),
            "repository": f"{org.org}/{repo}" if repo else None,
            "description": describe(a),
        }

    return {
        "org": org.org,
        "changes": plan.hub_changes > 0,
        "actions": [item(s.action) for s in plan.hub_steps],
        "warnings": list(org.warnings),
    }


def plan_json(plan: Plan, entries: Mapping[str, ImageEntry]) -> dict[str, object]:
    actions: list[dict[str, object]] = []
    for action in plan.image_actions:
        entry = entries.get(action.image)
        item: dict[str, object] = {
            "action": action_name(action),
            "change": is_change(action),
            "image": entry.source_text if entry else action.image,
            "source": entry.source.name if entry else None,
            "target": action.image,
            "tag": action.tag,
        }
        match action:
            case CopyTag():
                item |= {
                    "digest": str(action.digest),
                    "old_digest": str(action.old_target_digest)
                    if action.old_target_digest
                    else None,
                    "reason": str(action.reason),
                    "backup_tag": action.backup_tag,
                }
            case PruneTag(backup_of=str(of)):
                item |= {"digest": str(action.digest), "backup_of": of}
            case SkipTag() | ReportVanished() | ReportRejected() | KeepUnselected() | PruneTag():
                item["digest"] = str(action.digest) if action.digest else None
            case HoldForReview():
                item |= {
                    "digest": str(action.new_digest),
                    "old_digest": str(action.old_digest) if action.old_digest else None,
                    "already_pending": action.already_pending,
                    "gate_failed": action.gate_failed or None,
                }
            case BlockedByGate():
                item |= {
                    "digest": str(action.digest),
                    "mirrored_digest": str(action.mirrored) if action.mirrored else None,
                    "gate": action.reason,
                }
            case ReportMoved():
                item |= {"digest": str(action.mirrored), "upstream_digest": str(action.upstream)}
            case ObserveFailed():
                item["error"] = action.message
        actions.append(item)
    out: dict[str, object] = {
        "changes": plan.has_changes,
        "counts": plan.counts(),
        "actions": actions,
        "referrers_recheck": plan.recheck_probes,
    }
    if plan.org is not None:
        out["hub"] = _hub_json(plan, plan.org)
    return out
