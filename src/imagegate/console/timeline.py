"""PURE: a tag's digests over time as a small picture (the geometry of an SVG, drawn by the
``activity.html`` template; every text in it is escaped there)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from imagegate.domain.records import TagHistoryEntry

WIDTH, HEIGHT, MARGIN = 720, 70, 24
PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f")


@dataclass(frozen=True, slots=True)
class Segment:
    x: float  # where this digest started
    width: float  # until the next one (or the end)
    colour: str
    label: str  # short digest
    when: str  # ISO date it was recorded
    title: str  # full digest, for the tooltip


def timeline(history: Sequence[TagHistoryEntry], now: datetime) -> tuple[Segment, ...]:
    """One segment per digest the tag pointed to, oldest left; x spread by time."""
    entries = sorted(history, key=lambda e: (e.recorded_at, e.id))
    if not entries:
        return ()
    start = entries[0].recorded_at
    span = max((now - start).total_seconds(), 1.0)
    usable = WIDTH - 2 * MARGIN
    colours: dict[str, str] = {}
    xs = [MARGIN + usable * (e.recorded_at - start).total_seconds() / span for e in entries]
    out: list[Segment] = []
    for i, entry in enumerate(entries):
        digest = str(entry.target_digest)
        colour = colours.setdefault(digest, PALETTE[len(colours) % len(PALETTE)])
        end = xs[i + 1] if i + 1 < len(xs) else WIDTH - MARGIN
        out.append(
            Segment(
                x=round(xs[i], 1),
                width=round(max(end - xs[i], 2.0), 1),
                colour=colour,
                label=entry.target_digest.short,
                when=entry.recorded_at.date().isoformat(),
                title=digest,
            )
        )
    return tuple(out)
