"""A tiny metrics registry (counters, gauges, labels) rendered as Prometheus text format 0.0.4.

No runtime dependency. :class:`WatchMetrics` predefines what ``imagegate watch`` exports
(the list, with meanings, is in docs/watch.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar

from imagegate import __version__
from imagegate.watch.runs import RUN_RESULTS, RunRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

Kind = Literal["counter", "gauge"]
_M = TypeVar("_M", bound="Metric")
LabelKey = tuple[str, ...]


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metric:
    """One metric family: a value per combination of label values."""

    def __init__(self, name: str, help_text: str, kind: Kind, labelnames: Iterable[str]) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        self.labelnames = tuple(labelnames)
        for label in self.labelnames:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} on {name}")
        self.name, self.help, self.kind = name, help_text, kind
        self._values: dict[LabelKey, float] = {}
        if not self.labelnames:
            self._values[()] = 0.0

    def _key(self, labels: Mapping[str, str]) -> LabelKey:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def get(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[tuple[dict[str, str], float]]:
        return [
            (dict(zip(self.labelnames, key, strict=True)), value)
            for key, value in sorted(self._values.items())
        ]

    def render(self) -> str:
        lines = [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for key, value in sorted(self._values.items()):
            labels = ",".join(
                f'{n}="{escape_label_value(v)}"' for n, v in zip(self.labelnames, key, strict=True)
            )
            selector = f"{{{labels}}}" if labels else ""
            lines.append(f"{self.name}{selector} {format_value(value)}")
        return "\n".join(lines) + "\n"


class Counter(Metric):
    def __init__(self, name: str, help_text: str, labelnames: Iterable[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end with _total")
        super().__init__(name, help_text, "counter", labelnames)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"counter {self.name} can only go up")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(Metric):
    def __init__(self, name: str, help_text: str, labelnames: Iterable[str] = ()) -> None:
        super().__init__(name, help_text, "gauge", labelnames)

    def set(self, value: float, **labels: str) -> None:
        self._values[self._key(labels)] = float(value)

    def remove(self, **labels: str) -> None:
        self._values.pop(self._key(labels), None)


class MetricsRegistry:
    """Holds metric families in registration order and renders them all."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def _add(self, metric: _M) -> _M:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is already registered")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labelnames: Iterable[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labelnames))

    def gauge(self, name: str, help_text: str, labelnames: Iterable[str] = ()) -> Gauge:
        return self._add(Gauge(name, help_text, labelnames))

    def render(self) -> str:
        return "".join(metric.render() for metric in self._metrics.values())


class WatchMetrics:
    """The metrics ``imagegate watch`` exports; the sync run and the scheduler update them."""

    def __init__(self, registry: MetricsRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else MetricsRegistry()
        self.build_info = r.gauge(
            "imagegate_build_info", "imagegate version (always 1).", ["version"]
        )
        self.build_info.set(1, version=__version__)
        self.images_in_sync = r.gauge(
            "imagegate_images_in_sync", "Images whose selected tags all match the source."
        )
        self.images_out_of_sync = r.gauge(
            "imagegate_images_out_of_sync",
            "Images with a tag missing, drifted, moved upstream or failed (holds not counted).",
        )
        self.images_held = r.gauge(
            "imagegate_images_held",
            "Images with a tag held on purpose (pinned, rejected, pending review), none drifted.",
        )
        self.tags_in_sync = r.gauge("imagegate_tags_in_sync", "Mirrored tags matching the source.")
        self.tags_out_of_sync = r.gauge(
            "imagegate_tags_out_of_sync",
            "Selected tags missing in, differing from the target, or failed; not holds.",
        )
        self.tags_held = r.gauge(
            "imagegate_tags_held",
            "Tags kept away from upstream on purpose: pinned, rejected or pending review.",
        )
        self.pending_changes = r.gauge(
            "imagegate_pending_changes", "Changes waiting for review (imagegate pending)."
        )
        self.last_run_timestamp = r.gauge(
            "imagegate_last_run_timestamp_seconds", "Unix time the last run finished."
        )
        self.last_run_success = r.gauge(
            "imagegate_last_run_success", "1 if the last run succeeded, 0 if not."
        )
        self.last_run_duration = r.gauge(
            "imagegate_last_run_duration_seconds", "How long the last run took."
        )
        self.last_success_timestamp = r.gauge(
            "imagegate_last_success_timestamp_seconds", "Unix time the last successful run ended."
        )
        self.runs = r.counter("imagegate_runs_total", "Runs by result.", ["result"])
        for result in RUN_RESULTS:
            self.runs.inc(0, result=result)
        self.bytes_copied = r.counter(
            "imagegate_bytes_copied_total", "Blob and manifest bytes copied to targets."
        )
        self.errors = r.counter("imagegate_errors_total", "Errors by kind.", ["kind"])
        self.rate_limit_remaining = r.gauge(
            "imagegate_source_rate_limit_remaining",
            "Pulls left in the source registry's rate-limit window (from ratelimit-remaining).",
            ["registry"],
        )

    def observe_run(self, run: RunRecord) -> None:
        """Record a finished run (pass as the scheduler's ``on_record``)."""
        self.runs.inc(result=run.result)
        self.last_run_timestamp.set(run.finished.timestamp())
        self.last_run_duration.set(run.duration_seconds)
        self.last_run_success.set(1 if run.result == "success" else 0)
        if run.result == "success":
            self.last_success_timestamp.set(run.finished.timestamp())
        elif run.result == "failure":
            self.errors.inc(kind="run")

    def set_sync_state(
        self,
        *,
        images_in_sync: int,
        images_out_of_sync: int,
        tags_in_sync: int,
        tags_out_of_sync: int,
        pending_changes: int,
        images_held: int = 0,
        tags_held: int = 0,
    ) -> None:
        self.images_in_sync.set(images_in_sync)
        self.images_held.set(images_held)
        self.tags_held.set(tags_held)
        self.images_out_of_sync.set(images_out_of_sync)
        self.tags_in_sync.set(tags_in_sync)
        self.tags_out_of_sync.set(tags_out_of_sync)
        self.pending_changes.set(pending_changes)

    def add_bytes_copied(self, count: int) -> None:
        self.bytes_copied.inc(count)

    def count_error(self, kind: str, amount: int = 1) -> None:
        """``kind``: ``run``, ``image``, ``notify``, ... (keep the set small and fixed)."""
        self.errors.inc(amount, kind=kind)

    def set_rate_limit(self, registry: str, remaining: float) -> None:
        self.rate_limit_remaining.set(remaining, registry=registry)

    def render(self) -> str:
        return self.registry.render()
