"""The copy engine's defaults, importable without the engine (the CLI's help names them)."""

from __future__ import annotations

DEFAULT_CONCURRENCY = 6  # blob copies in flight per image
