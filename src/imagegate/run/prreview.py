"""What a pull request's reviewer is shown about images the allowlist adds: their Docker Hub
classification (Official, Verified Publisher, Sponsored OSS, Community) and whether Image
Access Management blocks them. Docker Hub search needs no login, so this works with no Hub
credential (an anonymous client); a failure is shown, never raised."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from imagegate.domain.allowlist import DEFAULT_HUB_URL, Config, ImageEntry
from imagegate.domain.reference import parse_reference
from imagegate.errors import ImagegateError
from imagegate.hub.classify import Classifier, ImageCategory
from imagegate.hub.client import HubClient
from imagegate.hub.models import AccessManagement

MAX_LOOKUPS = 20  # new images classified per plan (two searches each at most)


def _hub_repository(config: Config, entry: ImageEntry) -> str | None:
    if entry.source.is_docker_hub:
        return entry.source.repository
    hub = config.target.hub
    if hub is not None and entry.source.registry == config.target.registry:
        return entry.source.repository  # a Hub double fronting its own registry
    return None


async def classify_new(
    config: Config,
    entries: Sequence[ImageEntry],
    client: HubClient | None,
    settings: AccessManagement | None,
) -> dict[str, str]:
    """image key -> one line: its category and what IAM does with it."""
    out: dict[str, str] = {}
    todo = []
    for entry in entries:
        repo = _hub_repository(config, entry)
        if repo is None:
            out[entry.target.name] = "not on Docker Hub: Image Access Management does not apply"
        else:
            todo.append((entry, repo))
    if not todo:
        return out
    url = config.target.hub.url if config.target.hub is not None else DEFAULT_HUB_URL
    opened = HubClient(url) if client is None else contextlib.nullcontext(client)
    async with opened as hub:
        classifier = Classifier(hub, org=config.target.namespace, settings=settings)
        for entry, repo in todo[:MAX_LOOKUPS]:
            try:
                c = await classifier.classify(parse_reference(f"docker.io/{repo}"))
            except ImagegateError as exc:
                out[entry.target.name] = f"not classified ({exc})"
                continue
            if c.category is ImageCategory.UNKNOWN:
                out[entry.target.name] = f"**{c.label}**"
            elif c.blocked_by_iam is None:
                out[entry.target.name] = f"{c.label}"
            elif c.blocked_by_iam:
                out[entry.target.name] = f"{c.label}: IAM blocks it for members, a mirror is needed"
            else:
                out[entry.target.name] = (
                    f"**{c.label}: IAM allows it, no mirror is needed** (say why with reason:)"
                )
    return out
