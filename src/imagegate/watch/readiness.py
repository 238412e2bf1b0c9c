"""``/readyz``: is the watcher ready to work? Its configuration is loaded and its state
database is usable. An upstream registry or Docker Hub being down does NOT make it unready
(that is what runs, ``/healthz`` and the metrics report): a probe that restarted or
unrouted the pod during an upstream outage would only add an outage of its own.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from imagegate.domain.allowlist import Config
from imagegate.errors import ImagegateError
from imagegate.state import open_state
from imagegate.watch.runs import HealthReport

READY_TIMEOUT = 5.0  # seconds the state check may take before /readyz says it is not usable


def check_state(path: Path) -> str | None:
    """None when the state database at ``path`` can be read (or, before the first run, can be
    created in its directory); else why not. Reads only: never migrates or writes."""
    if not path.exists():
        parent = path.parent
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return None
        return f"{path} does not exist and {parent} is not a writable directory"
    try:
        with open_state(path, readonly=True) as store:
            store.last_run()
    except ImagegateError as exc:
        return str(exc)
    return None


async def readiness(
    config: Config, state: str | None, *, reload_error: str | None = None
) -> HealthReport:
    """Ready: ``config`` (the last valid allowlist) is loaded and the state database it names
    (or ``state``) is usable. ``reload_error``: why the last re-read of the file failed (the
    watcher goes on with the last valid one; shown, not a reason to be unready)."""
    path = Path(state) if state else config.state
    try:
        problem = await asyncio.wait_for(asyncio.to_thread(check_state, path), READY_TIMEOUT)
    except TimeoutError:
        problem = f"{path}: no answer within {READY_TIMEOUT:g} s"
    body: dict[str, object] = {
        "status": "ready" if problem is None else "unready",
        "config": str(config.path),
        "config_reload_error": reload_error,
        "state": str(path),
        "state_error": problem,
    }
    return HealthReport(healthy=problem is None, body=body)
