"""The options of ``imagegate watch`` and their defaults: values only, so that the CLI can
name the defaults in its help without importing the daemon (aiohttp's server, the run layer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imagegate.domain.listen import ListenAddress

DEFAULT_GRACE = 30.0  # seconds a run in flight may finish after SIGTERM
DEFAULT_FAILURE_BACKOFF = 30.0  # seconds after one failed run, doubling (scheduler)
DEFAULT_MAX_FAILURES = 3  # failed runs in a row before /healthz (not /livez) answers 503


@dataclass(frozen=True, slots=True)
class WatchOptions:
    config_path: Path
    state: str | None = None  # overrides `state:` in the file
    every: timedelta | None = None  # overrides `schedule:` in the file
    listen: ListenAddress | None = None  # overrides `listen:` in the file
    grace: float = DEFAULT_GRACE
    failure_backoff: float = DEFAULT_FAILURE_BACKOFF
    max_consecutive_failures: int = DEFAULT_MAX_FAILURES
