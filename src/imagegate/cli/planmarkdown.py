"""``plan --output markdown``: the plan as a pull-request comment, compact and bounded.

Sections: a one-line summary; images a pull request adds (everything a reviewer needs to
decide: source, target, tags, policy, visibility, teams, reason, Community/Official
classification, and the approve command for each digest held for review); what will be
copied, updated, held or blocked; what the Docker Hub organization gains or loses; warnings.
Every table stops at ``MAX_ROWS`` rows and the whole comment at ``MAX_CHARS`` characters
(GitHub refuses comments over 65536), saying what was left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from imagegate.domain.allowlist import ImageEntry
from imagegate.hub.models import CreateRepository, GrantTeam, RevokeTeam, SetVisibility
from imagegate.hub.plan import describe, is_write
from imagegate.plan.planner import (
    BlockedByGate,
    CopyReason,
    CopyTag,
    HoldForReview,
    ImageAction,
    ObserveFailed,
    Plan,
    PruneTag,
    ReportMoved,
    ReportRejected,
    action_name,
)

MAX_ROWS = 60  # rows per table
MAX_CHARS = 60_000  # the whole comment
MAX_NEW = 20  # new entries described in full


@dataclass(frozen=True, slots=True)
class MarkdownInputs:
    plan: Plan
    entries: Mapping[str, ImageEntry]
    allowlist: str  # the file name shown
    classification: Mapping[str, str]  # image key -> "Community: IAM blocks it ..." (new only)
    org_note: str = ""
    lock: str | None = None  # the lock file's name, when decisions live there
    notes: tuple[str, ...] = ()  # what the observation could not see


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]


def new_images(plan: Plan, entries: Mapping[str, ImageEntry]) -> list[str]:
    """Image keys that the target holds nothing of yet: every tag is a new copy or a new
    pending change (an entry a pull request adds)."""
    out = []
    for key in entries:
        actions = [a for a in plan.image_actions if a.image == key]
        if actions and all(
            (isinstance(a, CopyTag) and a.reason is CopyReason.NEW)
            or (isinstance(a, HoldForReview) and a.old_digest is None)
            for a in actions
        ):
            out.append(key)
    return out


def _approve_line(entry: ImageEntry, action: HoldForReview) -> str:
    line = f"imagegate approve {entry.target.familiar}:{action.tag}@{action.new_digest}"
    if action.gate_failed:
        line += " --override-gate --reason '...'"
    return line


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n… and {len(rows) - MAX_ROWS} more rows (run `imagegate plan` for all)")
    return out


def _new_entry(inputs: MarkdownInputs, key: str) -> list[str]:
    entry = inputs.entries[key]
    actions = [a for a in inputs.plan.image_actions if a.image == key]
    tags = [a.tag for a in actions if a.tag]
    teams = ", ".join(f"{t} ({p})" for t, p in entry.teams.items()) or "none"
    lines = [
        f"#### `{entry.source_text}` → `{entry.target.familiar}` ({inputs.allowlist} line "
        f"{entry.line})",
        "",
        f"- **classification:** {inputs.classification.get(key, 'not classified')}",
        f"- **tags ({len(tags)}):** " + (", ".join(f"`{t}`" for t in tags[:30]) or "none"),
        f"- **policy:** {entry.policy} · **visibility:** {entry.visibility} · **teams:** {teams}",
        "- **platforms:** "
        + (", ".join(str(p) for p in entry.platforms) if entry.platforms else "all"),
        f"- **reason:** {entry.reason or '_none given_ (ask the requester why)'}",
    ]
    if len(tags) > 30:
        lines[3] += f" … and {len(tags) - 30} more"
    held = [a for a in actions if isinstance(a, HoldForReview)]
    if held:
        lines += ["", "To approve, run and commit the lock file:", "", "```sh"]
        lines += [_approve_line(entry, a) for a in held[:MAX_ROWS]] + ["```"]
    return lines


def _row(inputs: MarkdownInputs, a: ImageAction) -> list[str]:
    entry = inputs.entries.get(a.image)
    name = f"{entry.target.familiar}:{a.tag}" if entry else f"{a.image}:{a.tag or '*'}"
    match a:
        case CopyTag():
            old = f" (was `{a.old_target_digest.short}`)" if a.old_target_digest else ""
            return [action_name(a), name, f"`{a.digest.short}`{old}"]
        case HoldForReview():
            cmd = f"`{_approve_line(entry, a)}`" if entry else ""
            failed = f" **failed a gate:** {a.gate_failed}" if a.gate_failed else ""
            return ["held for review", name, f"`{a.new_digest.short}`{failed} {cmd}"]
        case BlockedByGate():
            return ["**blocked (gate)**", name, f"`{a.digest.short}` {a.reason}"]
        case ReportRejected():
            return ["blocked (rejected)", name, f"`{a.digest.short}`"]
        case ReportMoved():
            return ["held (pinned)", name, f"upstream moved to `{a.upstream.short}`"]
        case PruneTag():
            return ["remove", name, f"`{a.digest.short}`"]
        case ObserveFailed():
            return ["**error**", name, a.message]
    return [action_name(a), name, ""]


def _org(inputs: MarkdownInputs) -> list[str]:
    plan, org = inputs.plan, inputs.plan.org
    if org is None:
        return [f"> {inputs.org_note}"] if inputs.org_note else []
    gains = [
        s
        for s in plan.hub_steps
        if isinstance(s.action, CreateRepository | GrantTeam | SetVisibility)
    ]
    losses = [s for s in plan.hub_steps if isinstance(s.action, RevokeTeam)]
    others = [s for s in plan.hub_steps if s not in gains and s not in losses]
    out = [f"### Docker Hub organization `{org.org}`", ""]
    if not plan.hub_steps:
        out.append("In sync: IAM, repositories, visibility, descriptions, teams.")
    for title, steps in (("Gains", gains), ("Loses", losses), ("Other changes", others)):
        if steps:
            out.append(f"**{title}:**")
            out += [
                f"- {'' if is_write(s.action) else '⚠ '}{_cell(describe(s.action))}"
                for s in steps[:MAX_ROWS]
            ]
            if len(steps) > MAX_ROWS:
                out.append(f"- … and {len(steps) - MAX_ROWS} more")
    return out


def render_markdown(inputs: MarkdownInputs) -> str:
    plan = inputs.plan
    counts = plan.counts()
    if plan.hub_changes:
        counts["hub-change"] = plan.hub_changes
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "nothing to do"
    verdict = "changes" if plan.has_changes else "no change"
    out = [f"### imagegate plan for `{inputs.allowlist}`: {verdict}", "", summary, ""]
    new = new_images(plan, inputs.entries)
    if new:
        out += [f"### New images ({len(new)})", ""]
        for key in new[:MAX_NEW]:
            out += [*_new_entry(inputs, key), ""]
        if len(new) > MAX_NEW:
            out += [f"… and {len(new) - MAX_NEW} more new images", ""]
    rows = [
        _row(inputs, a)
        for a in plan.image_actions
        if action_name(a) not in ("in-sync", "unselected", "vanished")
    ]
    if rows:
        out += ["### Images", "", *_table(("action", "image:tag", "digest"), rows), ""]
    out += _org(inputs)
    warnings = list(plan.org.warnings) if plan.org is not None else []
    warnings += list(inputs.notes)
    if warnings:
        out += ["", "<details><summary>Warnings</summary>", ""]
        out += [f"- {_cell(w)}" for w in warnings[:MAX_ROWS]] + ["", "</details>"]
    if inputs.lock and any(isinstance(a, HoldForReview) for a in plan.image_actions):
        out += ["", f"Approvals are recorded in `{inputs.lock}`: commit it to this branch."]
    text = "\n".join(out).rstrip() + "\n"
    if len(text) > MAX_CHARS:
        cut = text[: MAX_CHARS - 200].rsplit("\n", 1)[0]
        text = cut + "\n\n… (cut: the plan is too long for a comment; run `imagegate plan`)\n"
    return text
