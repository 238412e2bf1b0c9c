"""PURE: the short and full Docker Hub descriptions of a mirror, carrying its provenance.

Deterministic given its inputs (no clock, tags sorted): an unchanged mirror produces an
unchanged description, so a no-op run makes no Hub write. Limits are §2 of
``reference/docker-hub-api.md``: 100 characters short, 25000 full.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegate.hub.models import MAX_DESCRIPTION, MAX_FULL_DESCRIPTION

PROJECT_URL = "https://github.com/imagegate/imagegate"
_OVERVIEW_CUT = "\n\n*(upstream overview truncated)*\n"


@dataclass(frozen=True, slots=True)
class MirroredTag:
    tag: str
    digest: str  # "sha256:..." of the manifest or index the tag points to
    verified: str = ""  # how the digest was verified (key / identity, log index, scanner exit)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Everything a description says about a mirror.

    ``source`` is the upstream repository (``docker.io/bitnami/redis``, ``ghcr.io/x/y``);
    ``approved_at`` is a date or timestamp string chosen by the caller (the approval time,
    not "now", so the text stays stable); ``tool`` is e.g. ``imagegate 0.1.0``.
    """

    source: str
    tags: tuple[MirroredTag, ...] = ()
    approved_at: str | None = None
    approved_by: str | None = None
    reason: str | None = None
    tool: str = "imagegate"
    upstream_description: str | None = None  # upstream short description, optional
    upstream_overview: str | None = None  # upstream full description, appended if given


def short_description(p: Provenance) -> str:
    """At most 100 characters; independent of tags and digests so it rarely changes."""
    text = f"Vetted mirror of {_familiar(p.source)}"
    if p.upstream_description:
        text += ": " + " ".join(p.upstream_description.split())
    return _clip(text, MAX_DESCRIPTION)


def full_description(p: Provenance) -> str:
    """Markdown: upstream, approval, tool, mirrored tags with digests, upstream overview."""
    lines = [
        f"# Vetted mirror of `{_familiar(p.source)}`",
        "",
        "This repository is a vetted copy of an upstream image, mirrored byte for byte "
        f"(same digests) by [imagegate]({PROJECT_URL}). Pull it instead of the upstream.",
        "",
        "| Provenance | |",
        "| --- | --- |",
        f"| Upstream | {_upstream_link(p.source)} |",
    ]
    if p.approved_at or p.approved_by:
        who = f" by {_cell(p.approved_by)}" if p.approved_by else ""
        when = _cell(p.approved_at) if p.approved_at else "approved"
        lines.append(f"| Approved | {when}{who} |")
    if p.reason:
        lines.append(f"| Reason | {_cell(p.reason)} |")
    lines.append(f"| Mirrored by | {_cell(p.tool)} |")
    lines += ["", "## Mirrored tags", ""]
    if p.tags and any(t.verified for t in p.tags):
        lines += ["| Tag | Digest | Verified |", "| --- | --- | --- |"]
        lines += [
            f"| `{t.tag}` | `{t.digest}` | {_cell(t.verified) or 'not verified'} |"
            for t in sorted(p.tags, key=lambda t: t.tag)
        ]
    elif p.tags:
        lines += ["| Tag | Digest |", "| --- | --- |"]
        lines += [f"| `{t.tag}` | `{t.digest}` |" for t in sorted(p.tags, key=lambda t: t.tag)]
    else:
        lines.append("No tag has been mirrored yet.")
    text = "\n".join(lines) + "\n"
    if p.upstream_overview and p.upstream_overview.strip():
        head = text + "\n## Upstream overview\n\n"
        room = MAX_FULL_DESCRIPTION - len(head)
        overview = p.upstream_overview.strip() + "\n"
        if len(overview) > room:
            overview = overview[: max(0, room - len(_OVERVIEW_CUT))] + _OVERVIEW_CUT
        text = head + overview
    return _clip(text, MAX_FULL_DESCRIPTION)


def _familiar(source: str) -> str:
    """``docker.io/library/redis`` -> ``redis``; ``docker.io/x/y`` -> ``x/y``."""
    if source.startswith("docker.io/"):
        repo = source.removeprefix("docker.io/")
        if repo.startswith("library/") and repo.count("/") == 1:
            return repo.removeprefix("library/")
        return repo
    return source


def _upstream_link(source: str) -> str:
    if source.startswith("docker.io/"):
        repo = source.removeprefix("docker.io/")
        if repo.startswith("library/") and repo.count("/") == 1:
            url = f"https://hub.docker.com/_/{repo.removeprefix('library/')}"
        else:
            url = f"https://hub.docker.com/r/{repo}"
        return f"[`{source}`]({url})"
    return f"`{source}`"


def _cell(text: str) -> str:
    """Make free text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
