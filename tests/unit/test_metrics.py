import math
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from imagegate import __version__
from imagegate.watch.metrics import MetricsRegistry, WatchMetrics, format_value
from imagegate.watch.runs import RunRecord


def parse(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample_values(family):
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


def test_registry_output_is_valid_exposition_with_escaping():
    registry = MetricsRegistry()
    hits = registry.counter("demo_hits_total", 'Hits with "quotes", a \\ and\na newline.', ["path"])
    temp = registry.gauge("demo_temperature", "Plain gauge.")
    hits.inc(path="/a")
    hits.inc(2, path="/a")
    hits.inc(path='we"ird\\pa\nth')
    temp.set(-3.25)

    text = registry.render()
    assert text.endswith("\n")
    assert "# TYPE demo_hits_total counter" in text
    assert 'demo_hits_total{path="we\\"ird\\\\pa\\nth"} 1\n' in text
    assert "demo_temperature -3.25\n" in text
    families = parse(text)
    hits_family = families["demo_hits"]  # the parser strips a counter's _total
    assert hits_family.type == "counter"
    assert hits_family.documentation == 'Hits with "quotes", a \\ and\na newline.'
    assert sample_values(hits_family) == {
        (("path", "/a"),): 3,
        (("path", 'we"ird\\pa\nth'),): 1,
    }
    assert sample_values(families["demo_temperature"]) == {(): -3.25}


def test_unlabelled_metrics_start_at_zero_labelled_ones_are_absent():
    registry = MetricsRegistry()
    registry.gauge("a_value", "x")
    registry.gauge("b_value", "y", ["registry"])
    families = parse(registry.render())
    assert sample_values(families["a_value"]) == {(): 0}
    assert families["b_value"].samples == []


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda r: r.gauge("bad-name", "x"), "invalid metric name"),
        (lambda r: r.gauge("ok", "x", ["__reserved"]), "invalid label name"),
        (lambda r: r.gauge("ok", "x", ["a-b"]), "invalid label name"),
        (lambda r: r.counter("requests", "x"), "must end with _total"),
        (lambda r: r.counter("c_total", "x").inc(-1), "can only go up"),
        (lambda r: r.gauge("g", "x", ["a"]).set(1, b="x"), "takes labels"),
        (lambda r: r.gauge("g", "x", ["a"]).set(1), "takes labels"),
        (lambda r: (r.gauge("g", "x"), r.gauge("g", "y")), "already registered"),
    ],
)
def test_misuse_is_refused(call, needle):
    with pytest.raises(ValueError, match=needle):
        call(MetricsRegistry())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (3.0, "3"),
        (0.5, "0.5"),
        (1e20, "1e+20"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_watch_metrics_track_runs_and_sync_state():
    metrics = WatchMetrics()
    t0 = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)
    metrics.observe_run(RunRecord(t0, t0 + timedelta(seconds=12.5), "failure", "boom"))
    metrics.observe_run(RunRecord(t0, t0 + timedelta(seconds=4), "success"))
    metrics.set_sync_state(
        images_in_sync=7,
        images_out_of_sync=1,
        tags_in_sync=40,
        tags_out_of_sync=2,
        pending_changes=3,
    )
    metrics.add_bytes_copied(1024)
    metrics.add_bytes_copied(1024)
    metrics.count_error("image", 2)
    metrics.set_rate_limit("docker.io", 97)
    metrics.set_rate_limit("ghcr.io", 5000)

    families = parse(metrics.render())
    value = {name: sample_values(f) for name, f in families.items()}
    assert value["imagegate_runs"] == {
        (("result", "success"),): 1,
        (("result", "failure"),): 1,
        (("result", "cancelled"),): 0,  # present from the start, so rate() works
    }
    assert value["imagegate_last_run_success"] == {(): 1}
    assert value["imagegate_last_run_duration_seconds"] == {(): 4}
    assert value["imagegate_last_run_timestamp_seconds"] == {(): t0.timestamp() + 4}
    assert value["imagegate_last_success_timestamp_seconds"] == {(): t0.timestamp() + 4}
    assert value["imagegate_images_in_sync"] == {(): 7}
    assert value["imagegate_images_out_of_sync"] == {(): 1}
    assert value["imagegate_tags_in_sync"] == {(): 40}
    assert value["imagegate_tags_out_of_sync"] == {(): 2}
    assert value["imagegate_pending_changes"] == {(): 3}
    assert value["imagegate_bytes_copied"] == {(): 2048}
    assert value["imagegate_errors"] == {(("kind", "run"),): 1, (("kind", "image"),): 2}
    assert value["imagegate_source_rate_limit_remaining"] == {
        (("registry", "docker.io"),): 97,
        (("registry", "ghcr.io"),): 5000,
    }
    assert value["imagegate_build_info"] == {(("version", __version__),): 1}
    assert families["imagegate_runs"].type == "counter"
    assert families["imagegate_pending_changes"].type == "gauge"
    assert all(f.documentation for f in families.values())  # every metric has HELP
