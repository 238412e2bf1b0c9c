"""The catalogue's view of the registries: ``plan/status.py`` statuses, refreshed in the
background (HEAD requests only, like ``imagegate status``: no pull is spent).

Pages never wait on a registry: they read the last snapshot, and the state store for what it
records. A refresh runs every ``console.refresh``, after a decision and (under ``watch``)
after each run; a failed refresh keeps the previous snapshot and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imagegate.domain.allowlist import Config
from imagegate.errors import ImagegateError
from imagegate.plan.status import TagStatus, tag_statuses
from imagegate.run.sync import make_plan
from imagegate.run.wiring import registry_client
from imagegate.state import StateStore

log = logging.getLogger("imagegate.console")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Statuses by (target repository, tag); ``by_image`` for an image that failed whole."""

    at: datetime | None = None
    statuses: Mapping[tuple[str, str], TagStatus] = field(default_factory=dict)
    by_image: Mapping[str, TagStatus] = field(default_factory=dict)
    error: str = ""


async def observe_statuses(config: Config, store: StateStore) -> Snapshot:
    """What ``imagegate status`` computes, as a snapshot."""
    async with (
        registry_client(config) as client,
        make_plan(config, client, store, org=False) as report,
    ):
        records = {(r.target_repo, r.tag): r for r in store.tags()}
        found = tag_statuses(report.plan, report.observed.observations, report.entries, records)
    return Snapshot(
        at=datetime.now(UTC),
        statuses={(s.target, s.tag): s for s in found if s.tag is not None},
        by_image={s.target: s for s in found if s.tag is None},
    )


class Refresher:
    """Keeps the latest :class:`Snapshot`; ``wake()`` asks for a refresh now."""

    def __init__(
        self,
        load: Callable[[], tuple[Config, contextlib.AbstractContextManager[StateStore]]],
    ) -> None:
        self._load = load
        self.snapshot = Snapshot()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def refresh(self) -> Snapshot:
        try:
            config, opened = self._load()
            with opened as store:
                self.snapshot = await observe_statuses(config, store)
        except ImagegateError as exc:
            log.warning("console: could not observe the registries", extra={"error": str(exc)})
            self.snapshot = Snapshot(
                at=self.snapshot.at,
                statuses=self.snapshot.statuses,
                by_image=self.snapshot.by_image,
                error=str(exc),
            )
        return self.snapshot

    async def _loop(self, interval: Callable[[], float]) -> None:
        while True:
            self._wake.clear()
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval())

    def start(self, interval: Callable[[], float]) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(interval), name="console-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
