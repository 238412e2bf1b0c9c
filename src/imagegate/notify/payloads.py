"""PURE: a :class:`Message` as a generic JSON document or a Slack-compatible payload.

The generic schema (``imagegate.notification/v1``) is documented in docs/watch.md.
"""

from __future__ import annotations

from typing import Any

from imagegate.domain.allowlist import WebhookFormat
from imagegate.notify.details import details_json, details_summary
from imagegate.notify.message import Message, NotifyItem

SCHEMA = "imagegate.notification/v1"
MAX_JSON_ITEMS = 200
MAX_SLACK_LINES = 20
_SLACK_HEADER_LIMIT = 150
_SLACK_SECTION_LIMIT = 3000


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def title(message: Message) -> str:
    """One line saying what happened, also the Slack fallback ``text``."""
    n = len(message.items)
    match message.event:
        case "pending":
            return f"imagegate: {_plural(n, 'change')} waiting for review"
        case "published":
            return f"imagegate: {_plural(n, 'update')} published"
        case "failed":
            return f"imagegate: {_plural(n, 'failure')} in run {message.run_id}"
        case "summary":
            verb = "succeeded" if message.result == "success" else "FAILED"
            counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in message.counts.items())
            return f"imagegate run {message.run_id} {verb}" + (f": {counts}" if counts else "")


def _iso(message: Message) -> str:
    return message.time.isoformat().replace("+00:00", "Z")


def _item_json(item: NotifyItem) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "image": item.image,
        "tag": item.tag,
        "target": item.target,
        "old_digest": item.old_digest,
        "new_digest": item.new_digest,
        "message": item.message,
        "details": details_json(item.details) if item.details is not None else None,
    }


def json_payload(message: Message) -> dict[str, Any]:
    """The generic document: ``event``, ``run_id``, ``counts``, ``items`` (at most 200)."""
    items = message.items[:MAX_JSON_ITEMS]
    return {
        "schema": SCHEMA,
        "event": message.event,
        "run_id": message.run_id,
        "time": _iso(message),
        "result": message.result,
        "text": title(message),
        "note": message.note or None,
        "counts": dict(message.counts),
        "items": [_item_json(i) for i in items],
        "items_truncated": len(message.items) - len(items),
    }


def _escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(digest: str | None) -> str:
    if not digest:
        return "?"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:19]


def _slack_line(item: NotifyItem) -> str:
    name = _escape(f"{item.image}:{item.tag}" if item.image and item.tag else item.image or "run")
    line = f"• *{item.kind}* `{name}`"
    if item.target:
        line += f" → `{_escape(item.target)}`"
    if item.kind == "pending" and item.old_digest:
        line += f" `{_short(item.old_digest)}` ⇒ `{_short(item.new_digest)}`"
    elif item.kind == "pending":  # nothing mirrored yet: say so rather than show a `?`
        line += f" new tag `{_short(item.new_digest)}`"
    elif item.kind == "published" and item.old_digest and item.new_digest:  # an updated tag
        line += f" `{_short(item.old_digest)}` ⇒ `{_short(item.new_digest)}`"
    elif item.kind == "published" and item.new_digest:
        line += f" `{_short(item.new_digest)}`"
    if item.message:
        line += f": {_escape(item.message)}"
    summary = details_summary(item.details) if item.details is not None else ""
    if summary:  # a second, indented line: what a reviewer needs to know
        line += f"\n    _{_escape(summary)}_"
    return line


def slack_payload(message: Message) -> dict[str, Any]:
    """``text`` (notification fallback) plus ``blocks``: header, item list, context."""
    heading = title(message)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": heading[:_SLACK_HEADER_LIMIT]},
        }
    ]
    lines = [_slack_line(i) for i in message.items[:MAX_SLACK_LINES]]
    if len(message.items) > MAX_SLACK_LINES:
        lines.append(f"…and {len(message.items) - MAX_SLACK_LINES} more")
    if message.note:
        lines.insert(0, _escape(message.note))
    if lines:
        body = "\n".join(lines)
        if len(body) > _SLACK_SECTION_LIMIT:
            body = body[: _SLACK_SECTION_LIMIT - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    context = f"run `{_escape(message.run_id)}` · {_iso(message)}"
    if message.event == "pending":
        context += " · review with `imagegate pending`, then `imagegate approve`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _escape(heading), "blocks": blocks}


def build_payload(message: Message, fmt: WebhookFormat) -> dict[str, Any]:
    return slack_payload(message) if fmt == WebhookFormat.SLACK else json_payload(message)
