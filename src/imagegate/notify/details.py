"""PURE: the compact reviewer details a pending-change notification carries.

The details themselves are :class:`imagegate.domain.review.ReviewDetails`, typed from the
moment :mod:`imagegate.run.details` gathers them; here is only how a notification shows them:
the JSON item's ``details`` object and the one-line Slack summary.
"""

from __future__ import annotations

from imagegate.domain.review import ReviewDetails
from imagegate.domain.units import human_bytes

LABELS = ("version", "revision", "source")  # the labels a notification shows, in this order
MAX_VALUE = 80  # characters of a label value in a notification
SHORT_REVISION = 12  # characters of a revision in the one-line summary
MAX_ITEMS = 16  # items of one config field in a notification


def _labels(details: ReviewDetails) -> dict[str, str]:
    found = {name: details.label(name) for name in LABELS}
    return {name: value[:MAX_VALUE] for name, value in found.items() if value}


def details_json(details: ReviewDetails) -> dict[str, object]:
    """The ``details`` object of a JSON notification item."""
    out: dict[str, object] = {
        "created": details.created,
        "platforms": list(details.platforms),
        "size": details.size or None,
        "size_complete": details.size_complete,
        "layers": details.layers or None,
        "layers_changed": details.layers_changed,
        "labels": _labels(details),
    }
    changes = details.config_changes
    if changes is not None:
        out["config_changes"] = {
            "changes": [
                {
                    "field": str(c.field),
                    "before": [x[:MAX_VALUE] for x in c.before[:MAX_ITEMS]],
                    "after": [x[:MAX_VALUE] for x in c.after[:MAX_ITEMS]],
                }
                for c in changes.changes
            ],
            "truncated": changes.truncated,
        }
    if details.error:
        out["inspect_error"] = details.error
    return out


def details_summary(details: ReviewDetails) -> str:
    """One short line, e.g. ``built 2026-11-20, 3 platforms, 41.2 MiB, 2 of 5 layers
    changed, version 7.4.1, revision abc123, config changed: user, env names``; empty when
    nothing is known."""
    d = details
    parts: list[str] = []
    if d.created:
        parts.append(f"built {d.created[:10]}")
    if len(d.platforms) > 1:
        parts.append(f"{len(d.platforms)} platforms")
    elif d.platforms:
        parts.append(d.platforms[0])
    if d.size:
        parts.append(human_bytes(d.size) + ("" if d.size_complete else "+"))
    if d.layers and d.layers_changed is not None:
        parts.append(f"{d.layers_changed} of {d.layers} layers changed")
    elif d.layers:
        parts.append(f"{d.layers} layer" + ("" if d.layers == 1 else "s"))
    labels = _labels(d)
    if "version" in labels:
        parts.append(f"version {labels['version']}")
    if "revision" in labels:
        parts.append(f"revision {labels['revision'][:SHORT_REVISION]}")
    if d.config_changes:  # field names only: the values are in the JSON and `pending`
        names = [c.field.heading for c in d.config_changes.changes]
        parts.append("config changed: " + (", ".join(names) or "past the size caps"))
    if d.error:
        parts.append("details incomplete")
    return ", ".join(parts)
