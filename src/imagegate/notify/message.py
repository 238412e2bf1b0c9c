"""Notification values: what to send (``Message`` of ``NotifyItem``).

Where to send is the allowlist's :class:`imagegate.domain.allowlist.WebhookConfig`, validated
once by the loader. A webhook URL is a secret (Slack's carries its token in the path): every
message, log line and error names only :attr:`WebhookConfig.origin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from imagegate.domain.review import ReviewDetails

Event = Literal["pending", "published", "failed", "summary"]
ItemKind = Literal["pending", "published", "failed"]


@dataclass(frozen=True, slots=True)
class NotifyItem:
    """One tag-level (or run-level, when ``image`` is None) fact in a notification."""

    kind: ItemKind
    image: str | None = None  # the source as written in the allowlist
    tag: str | None = None
    target: str | None = None  # the target repository (or reference)
    old_digest: str | None = None
    new_digest: str | None = None
    message: str | None = None  # why it failed, or a note for reviewers
    details: ReviewDetails | None = None  # pending only: what a reviewer needs to know


@dataclass(frozen=True, slots=True)
class Message:
    """What one webhook call says. ``result`` is set on summaries only."""

    event: Event
    run_id: str
    time: datetime
    items: tuple[NotifyItem, ...]
    counts: dict[str, int]
    result: Literal["success", "failure"] | None = None
    note: str = ""
