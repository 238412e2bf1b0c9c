"""The rate-limit floor hook of a run: pause pulls from a source registry whose remaining
pulls are at the allowlist's ``rate_limit_floor`` (the pure rule is
:func:`imagegate.registry.ratefloor.pull_pause`), logged and audited."""

from __future__ import annotations

import asyncio
import logging

from imagegate.domain.allowlist import Config
from imagegate.domain.reference import Reference
from imagegate.registry.client import RegistryClient
from imagegate.registry.ratefloor import pull_pause
from imagegate.run.execute import BeforePull
from imagegate.state import Event, EventKind, StateStore

log = logging.getLogger("imagegate.run.sync")


def rate_floor_waiter(
    config: Config,
    client: RegistryClient,
    store: StateStore | None = None,
    run_id: int | None = None,
) -> BeforePull:
    """A ``before_pull`` hook pausing while a source's remaining pulls are at the floor.

    Each pause is logged and, given a ``store``, audited as a RATE_LIMITED event.
    """

    async def wait(src: Reference) -> None:
        floor = config.registry(src.registry).rate_limit_floor
        if not floor:
            return
        rl = client.rate_limit(src.registry)
        if rl is None:
            return
        pause = pull_pause(
            remaining=rl.remaining, window=rl.window, floor=floor, limit=rl.limit, host=src.registry
        )
        if pause is not None:
            log.warning(pause.message)
            if store is not None:
                store.append_event(
                    Event(
                        EventKind.RATE_LIMITED,
                        run_id=run_id,
                        image=src.name,
                        reason=pause.message,
                        detail={
                            "seconds": pause.seconds,
                            "remaining": rl.remaining,
                            "floor": floor,
                        },
                    )
                )
            await asyncio.sleep(pause.seconds)

    return wait
