"""Notification values: where to send (``WebhookTarget``) and what (``Message`` of ``NotifyItem``).

A webhook URL is a secret (Slack's carries its token in the path): it is kept out of ``repr``
and every message, log line and error names only :attr:`WebhookTarget.origin`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast
from urllib.parse import urlsplit

from imagegate.errors import ConfigError
from imagegate.notify.details import ReviewDetails

Event = Literal["pending", "published", "failed", "summary"]
ItemKind = Literal["pending", "published", "failed"]
Format = Literal["json", "slack"]
EVENTS: tuple[Event, ...] = ("pending", "published", "failed", "summary")
FORMATS: tuple[Format, ...] = ("json", "slack")


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: all of it that may be logged."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme or '?'}://{host}{port}"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One webhook. ``events`` picks the messages it gets; ``quiet`` skips summaries of runs
    where nothing was pending, published or failed."""

    url: str = field(repr=False)
    format: Format = "json"
    events: frozenset[Event] = frozenset(EVENTS)
    quiet: bool = True

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 (raises ValueError on a bad port)
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError(
                f"webhook URL for {url_origin(self.url)} is not a valid http(s) URL; "
                "write it like https://hooks.example.com/..."
            )
        if self.format not in FORMATS:
            raise ConfigError(
                f"webhook format {self.format!r} is not supported; use one of {', '.join(FORMATS)}"
            )
        unknown = sorted(set(self.events) - set(EVENTS))
        if unknown or not self.events:
            raise ConfigError(
                f"webhook events {unknown or '[]'} are not valid; choose from {', '.join(EVENTS)}"
            )

    @property
    def origin(self) -> str:
        return url_origin(self.url)

    @classmethod
    def create(
        cls, url: str, *, format: str = "json", events: Iterable[str] = EVENTS, quiet: bool = True
    ) -> WebhookTarget:
        """Build from untyped config values; the checks in ``__post_init__`` apply."""
        return cls(
            url=url,
            format=cast(Format, format),
            events=frozenset(cast(Iterable[Event], events)),
            quiet=quiet,
        )


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
