"""PURE: the compact reviewer details a pending-change notification carries.

Built from the ``details`` mapping the executor stores with a pending change (see
:meth:`imagegate.run.details.ImageDetails.as_details`), which is untyped JSON: every field is
checked and a missing or odd one is left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imagegate.domain.units import human_bytes

LABEL_PREFIX = "org.opencontainers.image."
LABELS = ("version", "revision", "source")  # the labels a notification shows, in this order
MAX_VALUE = 80  # characters of a label value in a notification
SHORT_REVISION = 12  # characters of a revision in the one-line summary


@dataclass(frozen=True, slots=True)
class ReviewDetails:
    """What a reviewer needs to know about a pending digest, in a notification."""

    created: str | None = None  # ISO 8601, as the image config says
    platforms: tuple[str, ...] = ()
    size: int | None = None  # compressed bytes
    size_complete: bool = True  # False: some platforms were not measured
    layers: int | None = None
    layers_changed: int | None = None  # None: no old digest to compare with
    labels: tuple[tuple[str, str], ...] = ()  # short names: version, revision, source
    error: str = ""  # the details are incomplete because of this

    @classmethod
    def from_mapping(cls, details: Mapping[str, object]) -> ReviewDetails:
        created = details.get("created")
        platforms = details.get("platforms")
        labels = details.get("labels")
        found = labels if isinstance(labels, Mapping) else {}
        error = details.get("inspect_error")
        return cls(
            created=created if isinstance(created, str) and created else None,
            platforms=tuple(str(p) for p in platforms) if isinstance(platforms, list) else (),
            size=_count(details.get("size")),
            size_complete=details.get("size_complete", True) is not False,
            layers=_count(details.get("layers")),
            layers_changed=_count(details.get("layers_changed"), zero=True),
            labels=tuple(
                (name, str(found[LABEL_PREFIX + name])[:MAX_VALUE])
                for name in LABELS
                if found.get(LABEL_PREFIX + name)
            ),
            error=error if isinstance(error, str) else "",
        )

    def as_json(self) -> dict[str, object]:
        """The ``details`` object of a JSON notification item."""
        out: dict[str, object] = {
            "created": self.created,
            "platforms": list(self.platforms),
            "size": self.size,
            "size_complete": self.size_complete,
            "layers": self.layers,
            "layers_changed": self.layers_changed,
            "labels": dict(self.labels),
        }
        if self.error:
            out["inspect_error"] = self.error
        return out

    def summary(self) -> str:
        """One short line, e.g. ``built 2026-11-20, 3 platforms, 41.2 MiB, 2 of 5 layers
        changed, version 7.4.1, revision abc123``; empty when nothing is known."""
        parts: list[str] = []
        if self.created:
            parts.append(f"built {self.created[:10]}")
        if len(self.platforms) > 1:
            parts.append(f"{len(self.platforms)} platforms")
        elif self.platforms:
            parts.append(self.platforms[0])
        if self.size:
            parts.append(human_bytes(self.size) + ("" if self.size_complete else "+"))
        if self.layers and self.layers_changed is not None:
            parts.append(f"{self.layers_changed} of {self.layers} layers changed")
        elif self.layers:
            parts.append(f"{self.layers} layer" + ("" if self.layers == 1 else "s"))
        labels = dict(self.labels)
        if "version" in labels:
            parts.append(f"version {labels['version']}")
        if "revision" in labels:
            parts.append(f"revision {labels['revision'][:SHORT_REVISION]}")
        if self.error:
            parts.append("details incomplete")
        return ", ".join(parts)


def _count(value: object, *, zero: bool = False) -> int | None:
    """A non-negative int from JSON (``bool`` is not one); 0 counts only with ``zero``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value if value or zero else None
