"""PURE: what a reviewer needs to know about a digest waiting for review (``ReviewDetails``).

Gathered by :mod:`imagegate.run.details` when a pending change is created, stored with the
change (as the JSON object of :meth:`ReviewDetails.as_json`, so the state schema is the one
it always was), shown by ``imagegate pending`` and carried by notifications. Read back with
:meth:`ReviewDetails.from_json`, which checks every field: a missing or odd one is left at its
default rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imagegate.domain.configdiff import ConfigChanges

LABEL_PREFIX = "org.opencontainers.image."


@dataclass(frozen=True, slots=True)
class ReviewDetails:
    """Reviewer details of one digest. ``layers_changed`` is None without an old digest."""

    platforms: tuple[str, ...] = ()
    platform: str = ""  # the platform whose config, layers and labels are shown
    created: str | None = None  # ISO 8601, as the image config says
    size: int = 0  # compressed bytes of every distinct blob over the inspected platforms
    size_complete: bool = True  # False: some platforms were not measured
    layers: int = 0  # layers of ``platform``
    layers_changed: int | None = None  # layers of ``platform`` not in the old digest's
    labels: tuple[tuple[str, str], ...] = ()  # ``org.opencontainers.image.*`` labels, in order
    error: str = ""  # the details are incomplete because of this
    # config fields that differ from the old digest's (same platform); None: not compared
    # (a new tag, or the old config could not be read). Rows stored before it load as None.
    config_changes: ConfigChanges | None = None

    def label(self, short: str) -> str | None:
        """The value of ``org.opencontainers.image.<short>``, if the image has it."""
        return dict(self.labels).get(LABEL_PREFIX + short) or None

    def as_json(self) -> dict[str, object]:
        """The JSON object stored with the pending change (and `pending --output json`)."""
        out: dict[str, object] = {
            "platforms": list(self.platforms),
            "platform": self.platform,
            "created": self.created,
            "size": self.size,
            "size_complete": self.size_complete,
            "layers": self.layers,
            "layers_changed": self.layers_changed,
            "labels": dict(self.labels),
        }
        if self.config_changes is not None:
            out["config_changes"] = self.config_changes.as_json()
        if self.error:
            out["inspect_error"] = self.error
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> ReviewDetails:
        created, platforms = doc.get("created"), doc.get("platforms")
        platform, labels, error = doc.get("platform"), doc.get("labels"), doc.get("inspect_error")
        return cls(
            platforms=tuple(str(p) for p in platforms) if isinstance(platforms, list) else (),
            platform=platform if isinstance(platform, str) else "",
            created=created if isinstance(created, str) and created else None,
            size=_count(doc.get("size")) or 0,
            size_complete=doc.get("size_complete", True) is not False,
            layers=_count(doc.get("layers")) or 0,
            layers_changed=_count(doc.get("layers_changed")),
            labels=tuple((str(k), str(v)) for k, v in labels.items())
            if isinstance(labels, Mapping)
            else (),
            error=error if isinstance(error, str) else "",
            config_changes=ConfigChanges.from_json(doc.get("config_changes")),
        )


def _count(value: object) -> int | None:
    """A non-negative int from JSON (``bool`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
