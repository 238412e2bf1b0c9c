"""What ``imagegate watch`` exports on ``/metrics``, through ``prometheus_client``.

Each :class:`WatchMetrics` has its own ``CollectorRegistry`` (never the library's global one),
so two watchers in one process, or many tests, never share a series. Naming follows the
Prometheus conventions: the unit before ``_total``, one metric with a ``state`` label instead
of paired gauges, every label value known in advance exported at zero from the start, and no
timestamp of a run before a run happened. The catalogue, and the renames from earlier
versions, are in docs/watch.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from imagegate import __version__
from imagegate.watch.runs import RUN_RESULTS, RunRecord

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class SyncStateLabel(StrEnum):
    """The ``state`` label of ``imagegate_tags`` and ``imagegate_images``."""

    IN_SYNC = "in_sync"  # the target holds what upstream holds
    HELD = "held"  # kept away from upstream on purpose: pinned, rejected, pending review
    OUT_OF_SYNC = "out_of_sync"  # missing, drifted, moved upstream, or its copy failed
    BLOCKED = "blocked"  # upstream's digest failed a verification gate; the mirror stays


class ErrorKind(StrEnum):
    RUN = "run"  # a run that failed as a whole
    IMAGE = "image"  # an image (or one of its tags) that failed in a run
    NOTIFY = "notify"  # a webhook that could not be delivered


# A run takes seconds (nothing to do) to hours (a first mirror of large images).
RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
# One tag copy: a manifest only (sub-second) to gigabytes of layers.
COPY_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0)


class LastRun(Collector):
    """The last run's time and result: exported only once a run has finished, so a dashboard
    never reads a zero timestamp (1970) before the first run."""

    def __init__(self) -> None:
        self.finished: float | None = None
        self.success: bool | None = None
        self.last_success: float | None = None

    def observe(self, run: RunRecord) -> None:
        self.finished = run.finished.timestamp()
        self.success = run.result == "success"
        if self.success:
            self.last_success = self.finished

    def collect(self) -> Iterable[Metric]:
        if self.finished is not None:
            yield GaugeMetricFamily(
                "imagegate_last_run_timestamp_seconds",
                "Unix time the last run finished.",
                value=self.finished,
            )
            yield GaugeMetricFamily(
                "imagegate_last_run_success",
                "1 if the last run succeeded, 0 if not.",
                value=1.0 if self.success else 0.0,
            )
        if self.last_success is not None:
            yield GaugeMetricFamily(
                "imagegate_last_success_timestamp_seconds",
                "Unix time the last successful run finished.",
                value=self.last_success,
            )


class WatchMetrics:
    """The metrics ``imagegate watch`` exports; the sync run and the scheduler update them."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        Info("imagegate_build", "imagegate version.", registry=r).info({"version": __version__})
        self.images = Gauge(
            "imagegate_images",
            "Images by their worst tag's state: in_sync, held (on purpose), blocked, out_of_sync.",
            ["state"],
            registry=r,
        )
        self.tags = Gauge(
            "imagegate_tags",
            "Selected tags by state: in_sync, held (pinned, rejected, pending review), "
            "out_of_sync (missing, drifted, moved upstream, failed), blocked (a gate failed).",
            ["state"],
            registry=r,
        )
        for state in SyncStateLabel:
            self.images.labels(state=state.value)
            self.tags.labels(state=state.value)
        self.pending_changes = Gauge(
            "imagegate_pending_changes",
            "Changes waiting for review (imagegate pending).",
            registry=r,
        )
        self.runs = Counter("imagegate_runs", "Runs by result.", ["result"], registry=r)
        for result in RUN_RESULTS:
            self.runs.labels(result=result)
        self.run_duration = Histogram(
            "imagegate_run_duration_seconds",
            "How long runs took.",
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.copy_duration = Histogram(
            "imagegate_copy_duration_seconds",
            "How long copying one tag took (a copy that succeeded).",
            buckets=COPY_BUCKETS,
            registry=r,
        )
        self.copied_bytes = Counter(
            "imagegate_copied_bytes",
            "Blob and manifest bytes copied to targets.",
            registry=r,
        )
        self.errors = Counter("imagegate_errors", "Errors by kind.", ["kind"], registry=r)
        for kind in ErrorKind:
            self.errors.labels(kind=kind.value)
        self.rate_limit_remaining = Gauge(
            "imagegate_source_rate_limit_remaining",
            "Pulls left in the source registry's rate-limit window (from ratelimit-remaining).",
            ["registry"],
            registry=r,
        )
        self.last_run = LastRun()
        r.register(self.last_run)

    def observe_run(self, run: RunRecord) -> None:
        """Record a finished run (pass as the scheduler's ``on_record``)."""
        self.runs.labels(result=run.result).inc()
        self.run_duration.observe(max(run.duration_seconds, 0.0))
        self.last_run.observe(run)
        if run.result == "failure":
            self.count_error(ErrorKind.RUN)

    def set_sync_state(
        self,
        *,
        images: Mapping[SyncStateLabel, int],
        tags: Mapping[SyncStateLabel, int],
        pending_changes: int,
    ) -> None:
        """Counts by state; a state left out is zero."""
        for state in SyncStateLabel:
            self.images.labels(state=state.value).set(images.get(state, 0))
            self.tags.labels(state=state.value).set(tags.get(state, 0))
        self.pending_changes.set(pending_changes)

    def add_copied_bytes(self, count: int) -> None:
        self.copied_bytes.inc(count)

    def observe_copies(self, seconds: Iterable[float]) -> None:
        for value in seconds:
            self.copy_duration.observe(max(value, 0.0))

    def count_error(self, kind: ErrorKind, amount: int = 1) -> None:
        self.errors.labels(kind=kind.value).inc(amount)

    def set_rate_limit(self, registry: str, remaining: float) -> None:
        self.rate_limit_remaining.labels(registry=registry).set(remaining)

    def render(self) -> str:
        return generate_latest(self.registry).decode()
