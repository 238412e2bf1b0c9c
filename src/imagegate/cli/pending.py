"""``imagegate pending``: changes waiting for review, with what a reviewer needs to decide."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from imagegate.cli.common import add_config_options, add_image_filter, load
from imagegate.cli.render import print_json
from imagegate.domain.records import PendingChange, PendingStatus
from imagegate.domain.units import human_bytes
from imagegate.domain.verdicts import StoredVerdict
from imagegate.errors import EXIT_OK

if TYPE_CHECKING:  # a change's reviewer details: imported when a row has some (start-up)
    from imagegate.domain.review import ReviewDetails

STATUSES = ("pending", "approved", "rejected", "applied", "superseded", "all")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "pending",
        help="list changes waiting for review (review policy), with build time, size, labels "
        "and config changes",
        description="List pending changes: source and tag, old and new digest, when the new "
        "image was built, its platforms, size, how many layers changed, its OCI labels and what "
        "changed in its config (user, entrypoint, cmd, exposed ports, env variable names, "
        "working dir, version/revision/source labels). "
        "Decide with `imagegate approve` or `imagegate reject`.",
    )
    add_config_options(p)
    add_image_filter(p)
    p.add_argument(
        "--status",
        choices=STATUSES,
        default="pending",
        help="which changes to list (default: pending; 'all' for the whole history)",
    )
    p.set_defaults(func=run)


Verdicts = tuple[StoredVerdict, ...]


def verdict_json(v: StoredVerdict) -> dict[str, object]:
    return {
        "passed": v.passed,
        "gate": v.gate or None,
        "reason": v.reason or None,
        "evidence": list(v.evidence),
        "policy": v.policy,
        "verified_at": v.verified_at.isoformat() if v.verified_at else None,
    }


def change_json(change: PendingChange, verdicts: Verdicts = ()) -> dict[str, object]:
    return {
        "id": change.id,
        "status": str(change.status),
        "source": change.source_repo,
        "target": change.target_repo,
        "tag": change.tag,
        "old_digest": str(change.old_digest) if change.old_digest else None,
        "new_digest": str(change.new_digest),
        "created_at": change.created_at.isoformat() if change.created_at else None,
        "decided_at": change.decided_at.isoformat() if change.decided_at else None,
        "decided_by": change.decided_by or None,
        "reason": change.reason or None,
        "details": change.details.as_json() if change.details is not None else {},
        "verdicts": [verdict_json(v) for v in verdicts],
    }


def _size(details: ReviewDetails | None) -> str:
    if details is None or not details.size:
        return "-"
    text = human_bytes(details.size)
    return text if details.size_complete else f"{text} (some platforms)"


def _layers(details: ReviewDetails | None) -> str:
    if details is None or not details.layers:
        return "-"
    layers, changed = details.layers, details.layers_changed
    text = f"{layers} layer{'s' if layers != 1 else ''}"
    if changed is not None:
        text += f", {changed} changed"
    return f"{text} ({details.platform})" if details.platform else text


def _config_rows(details: ReviewDetails) -> list[tuple[str, str]]:
    """What changed in the config since the old digest (env NAMES only), one row a field."""
    changes = details.config_changes
    if changes is None:
        return []
    rows = [("config", c.text()) for c in changes.changes]
    if not changes.changes:
        rows.append(("config", "unchanged (user, entrypoint, cmd, ports, env names, workdir)"))
    if changes.truncated:
        rows.append(("config", "(a field was cut at the size caps: not every change is shown)"))
    return rows


def _verdict_rows(change: PendingChange, verdicts: Verdicts) -> list[tuple[str, str]]:
    """The stored gate verdicts of the new digest: ``gate  passed (evidence)`` or ``gate
    failed (reason)`` and, for a pending change, what approving a failed one needs."""
    rows: list[tuple[str, str]] = []
    for v in verdicts:
        if v.passed:
            shown = "; ".join(v.evidence[:3]) + ("; ..." if len(v.evidence) > 3 else "")
            rows.append(("gate", f"passed ({shown})" if shown else "passed"))
        else:
            rows.append(("gate", f"failed: {v.gate} gate ({v.reason})"))
    if change.status is PendingStatus.PENDING and any(not v.passed for v in verdicts):
        rows.append(("gate", "approving it needs --override-gate --reason TEXT"))
    return rows


def render_change(change: PendingChange, note: str = "", verdicts: Verdicts = ()) -> str:
    """One change as an indented block (pure); ``note`` is an extra line about it,
    ``verdicts`` the stored gate verdicts of its new digest."""
    d = change.details
    head = f"{change.target_repo}:{change.tag}  [{change.status}]"
    rows = [
        ("source", f"{change.source_repo}:{change.tag}"),
        ("old", str(change.old_digest) if change.old_digest else "- (not mirrored yet)"),
        ("new", str(change.new_digest)),
        ("built", (d.created if d else None) or "-"),
        ("platforms", ", ".join(d.platforms) if d is not None else "-"),
        ("size", _size(d)),
        ("layers", _layers(d)),
    ]
    if d is not None:
        rows += [("label", f"{k}={v}") for k, v in d.labels]
        rows += _config_rows(d)
    rows += _verdict_rows(change, verdicts)
    if note:
        rows.append(("note", note))
    if d is not None and d.error:
        rows.append(("note", f"details incomplete: {d.error}"))
    if change.created_at:
        rows.append(("seen", change.created_at.isoformat(timespec="seconds")))
    if change.decided_by:
        why = f": {change.reason}" if change.reason else ""
        rows.append(("decided", f"{change.status} by {change.decided_by}{why}"))
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)
    return f"{head}\n{body}"


def _several_notes(changes: Sequence[PendingChange]) -> dict[int | None, str]:
    """When upstream moved a tag again while it waited, say which pending digest is newest."""
    groups: dict[tuple[str, str], list[PendingChange]] = {}
    for c in changes:
        if c.status is PendingStatus.PENDING:
            groups.setdefault((c.target_repo, c.tag), []).append(c)
    notes: dict[int | None, str] = {}
    for group in (g for g in groups.values() if len(g) > 1):
        newest = max(group, key=lambda c: c.id or 0)
        for c in group:
            notes[c.id] = (
                f"the newest of {len(group)} pending digests of this tag (upstream's latest)"
                if c is newest
                else f"upstream has moved on since: {newest.new_digest} is newer"
            )
    return notes


def render_changes(
    changes: Sequence[PendingChange],
    status: str,
    verdicts: Sequence[Verdicts] | None = None,
) -> str:
    """``verdicts``: per change (same order), its new digest's stored gate verdicts."""
    if not changes:
        return "Nothing pending." if status == "pending" else f"No {status} changes."
    notes = _several_notes(changes)
    judged = list(verdicts) if verdicts is not None else [() for _ in changes]
    blocks = [
        render_change(c, notes.get(c.id, ""), v) for c, v in zip(changes, judged, strict=True)
    ]
    if status == "pending":
        blocks.append(
            "Approve with: imagegate approve IMAGE:TAG[@DIGEST] --reason TEXT "
            "(or reject the same way)"
        )
    return "\n\n".join(blocks)


def run(args: argparse.Namespace) -> int:
    from imagegate.run.review import target_repo_for
    from imagegate.run.verdicts import change_verdicts
    from imagegate.run.wiring import state_for

    config = load(args)
    status = None if args.status == "all" else PendingStatus(args.status)
    with state_for(config, args.state, readonly=True) as store:
        repos = [target_repo_for(config, store, name) for name in args.images]
        changes = [c for c in store.pending(status) if not repos or c.target_repo in repos]
        verdicts = [
            change_verdicts(config.find_image, store, c.target_repo, c.new_digest) for c in changes
        ]
    if args.output == "json":
        print_json({"changes": [change_json(c, v) for c, v in zip(changes, verdicts, strict=True)]})
    else:
        print(render_changes(changes, args.status, verdicts))
    return EXIT_OK
