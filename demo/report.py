"""Read the numbers out of `imagegate sync` output and write the demo's closing summary (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from imagegate.errors import ImagegateError

# "Run 1 success: 5 copied, 0 updated, 0 in sync, 0 pending review, 0 failed; 2.8 MiB moved
#  (0 blobs mounted, 2 already there) in 0.7s"
_HEADLINE = re.compile(
    r"Run (?P<run>\S+) (?P<result>\S+): (?P<copied>\d+) copied, (?P<updated>\d+) updated, "
    r"(?P<in_sync>\d+) in sync, .*?(?P<failed>\d+) failed; "
    r"(?P<moved>\d+(?:\.\d+)? (?:B|KiB|MiB|GiB|TiB)) moved"
)
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


@dataclass(frozen=True, slots=True)
class SyncNumbers:
    """The headline of one `imagegate sync` run."""

    run: str
    copied: int
    updated: int
    in_sync: int
    failed: int
    moved: str  # as printed, e.g. "2.8 MiB"

    @property
    def moved_bytes(self) -> int:
        """``moved`` back in bytes (approximate: the CLI rounds to one decimal)."""
        value, unit = self.moved.split()
        return round(float(value) * _UNITS[unit])


def parse_sync_output(text: str) -> SyncNumbers:
    match = _HEADLINE.search(text)
    if match is None:
        raise ImagegateError(
            "the demo could not find the 'Run N ...: X copied, ...; SIZE moved' line in the "
            "output of `imagegate sync`; has its summary format changed?"
        )
    return SyncNumbers(
        run=match["run"],
        copied=int(match["copied"]),
        updated=int(match["updated"]),
        in_sync=int(match["in_sync"]),
        failed=int(match["failed"]),
        moved=match["moved"],
    )


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """What the demo saw, for the closing summary."""

    upstream_tags: int
    upstream_repos: int
    first: SyncNumbers
    second: SyncNumbers
    target_tags: Sequence[tuple[str, Sequence[str]]]  # (repository, tags) on the target
    checks: Sequence[str]  # facts verified on the target with an independent client
    allowlist: str
    state: str
    org_checks: Sequence[str] = ()  # the organization's job, checked on the Hub double


def render_summary(o: DemoOutcome, *, seconds: float) -> str:
    ratio = o.first.moved_bytes / max(o.second.moved_bytes, 1)
    lines = [
        "What happened",
        f"  - upstream: {o.upstream_tags} tags in {o.upstream_repos} repositories "
        "(multi-arch, Docker and OCI, shared base layers)",
        f"  - first sync: {o.first.copied} tags copied, {o.first.moved} moved",
        f"  - after the upstream changes: {o.second.copied} copied, {o.second.updated} updated, "
        f"{o.second.in_sync} left alone, {o.second.moved} moved "
        f"(about {ratio:.0f}x less than the first sync)",
        "  - the organization registry now holds:",
    ]
    lines += [f"      {repo}: {', '.join(tags)}" for repo, tags in o.target_tags]
    lines.append("  - checked on the organization registry with an independent client:")
    lines += [f"      ok  {check}" for check in o.checks]
    if o.org_checks:
        lines.append("  - the organization's job, checked on the Docker Hub double:")
        lines += [f"      ok  {check}" for check in o.org_checks]
    lines += [
        f"  - allowlist: {o.allowlist}   state and audit log: {o.state}",
        f"  - every registry stopped; nothing is left running ({seconds:.1f}s in all)",
    ]
    return "\n".join(lines)
