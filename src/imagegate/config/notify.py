"""``notify:`` of the allowlist: the webhooks told about runs (docs/notify.md)."""

from __future__ import annotations

from imagegate.config.yamldoc import Node
from imagegate.domain.allowlist import NotifyEvent, WebhookConfig, WebhookFormat, is_webhook_url

WEBHOOK_KEYS = frozenset({"url", "format", "events"})


def parse_notify(n: Node) -> tuple[WebhookConfig, ...]:
    m = n.mapping({"webhooks"})
    out: list[WebhookConfig] = []
    for item in m["webhooks"].sequence() if "webhooks" in m else []:
        w = item.mapping(WEBHOOK_KEYS, required=("url",))
        url = w["url"].secret()
        if not is_webhook_url(url.reveal()):
            # never echo the URL: it carries the webhook's secret
            raise w["url"].error("must be an http:// or https:// URL (value not shown: a secret)")
        events = frozenset(NotifyEvent)
        if "events" in w:
            items = w["events"].sequence()
            if not items:
                raise w["events"].error("the list is empty; leave it out for every event")
            events = frozenset(e.choice(NotifyEvent) for e in items)
        fmt = w["format"].choice(WebhookFormat) if "format" in w else WebhookFormat.JSON
        out.append(WebhookConfig(url=url, format=fmt, events=events))
    return tuple(out)
