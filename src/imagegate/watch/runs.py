"""What the watch loop has done so far: run records, the loop's state, and health (pure).

The scheduler writes a :class:`RunHistory`; the server reads it for ``/livez`` and
``/healthz``. Both live in the same event loop, so no locking is needed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

RunResult = Literal["success", "failure", "cancelled"]
LoopState = Literal["starting", "waiting", "running", "stopping", "stopped"]
RUN_RESULTS: tuple[RunResult, ...] = ("success", "failure", "cancelled")


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a job returns: did the run succeed (every image processed), and a one-line summary."""

    success: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished run as the scheduler saw it. ``failure`` includes a job that raised."""

    started: datetime
    finished: datetime
    result: RunResult
    message: str = ""

    @property
    def duration_seconds(self) -> float:
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True, slots=True)
class HealthReport:
    healthy: bool
    body: dict[str, Any]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


class RunHistory:
    """Mutable state of one watch loop: current state, last run, failure streak, totals."""

    def __init__(self) -> None:
        self.state: LoopState = "starting"
        self.started_at: datetime | None = None
        self.running_since: datetime | None = None
        self.next_run: datetime | None = None
        self.last: RunRecord | None = None
        self.last_success: datetime | None = None
        self.consecutive_failures = 0
        self.totals: Counter[RunResult] = Counter()

    def record(self, run: RunRecord) -> None:
        self.last = run
        self.running_since = None
        self.totals[run.result] += 1
        if run.result == "success":
            self.consecutive_failures = 0
            self.last_success = run.finished
        elif run.result == "failure":
            self.consecutive_failures += 1

    def health(self, *, max_consecutive_failures: int) -> HealthReport:
        """Healthy while the loop runs (not stopping/stopped) and fewer than
        ``max_consecutive_failures`` runs in a row failed."""
        status: str
        if self.state in ("stopping", "stopped"):
            status = self.state
        elif self.consecutive_failures >= max_consecutive_failures:
            status = "failing"
        else:
            status = "ok"
        last = self.last
        body: dict[str, Any] = {
            "status": status,
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "max_consecutive_failures": max_consecutive_failures,
            "started_at": _iso(self.started_at),
            "running_since": _iso(self.running_since),
            "next_run": _iso(self.next_run),
            "last_success": _iso(self.last_success),
            "last_run": None
            if last is None
            else {
                "started": _iso(last.started),
                "finished": _iso(last.finished),
                "result": last.result,
                "duration_seconds": round(last.duration_seconds, 3),
                "message": last.message,
            },
            "runs": {result: self.totals[result] for result in RUN_RESULTS},
        }
        return HealthReport(healthy=status == "ok", body=body)


# How long past its planned start a run may still not have started before /livez says the
# scheduler is wedged (it wakes within milliseconds of its slot on a healthy loop).
DEFAULT_WEDGED_AFTER = timedelta(minutes=5)


def liveness(
    history: RunHistory, now: datetime, *, wedged_after: timedelta = DEFAULT_WEDGED_AFTER
) -> HealthReport:
    """Alive: the loop runs and its scheduler keeps its word. Not alive: the loop has
    stopped, or it waits for a run that should have started ``wedged_after`` ago. Failing
    runs (an upstream outage) do not make the process dead: a restart would not fix them."""
    status = "alive"
    if history.state == "stopped":
        status = "stopped"
    elif (
        history.state == "waiting"
        and history.next_run is not None
        and now - history.next_run > wedged_after
    ):
        status = "wedged"
    body: dict[str, Any] = {
        "status": status,
        "state": history.state,
        "next_run": _iso(history.next_run),
        "running_since": _iso(history.running_since),
    }
    return HealthReport(healthy=status == "alive", body=body)
