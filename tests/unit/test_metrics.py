"""WatchMetrics through prometheus_client: names, labels at zero, histograms, no zero timestamps."""

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from imagegate import __version__
from imagegate.watch.metrics import ErrorKind, SyncStateLabel, WatchMetrics
from imagegate.watch.runs import RunRecord

T0 = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)


def parse(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(text):
    """{(sample name, sorted labels): value} of every sample."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_before_the_first_run_every_known_series_is_zero_and_no_timestamp_is_shown():
    metrics = WatchMetrics()
    text = metrics.render()
    values = samples(text)
    for state in ("in_sync", "held", "out_of_sync"):
        assert values[("imagegate_tags", (("state", state),))] == 0
        assert values[("imagegate_images", (("state", state),))] == 0
    for result in ("success", "failure", "cancelled"):
        assert values[("imagegate_runs_total", (("result", result),))] == 0
    for kind in ("run", "image", "notify"):
        assert values[("imagegate_errors_total", (("kind", kind),))] == 0
    assert values[("imagegate_copied_bytes_total", ())] == 0
    assert values[("imagegate_run_duration_seconds_count", ())] == 0
    assert values[("imagegate_copy_duration_seconds_count", ())] == 0
    assert values[("imagegate_build_info", (("version", __version__),))] == 1
    # a timestamp of 0 would read as 1970: the last-run series appear only after a run
    assert "imagegate_last_run_timestamp_seconds" not in text
    assert "imagegate_last_run_success" not in text
    assert "imagegate_last_success_timestamp_seconds" not in text
    # a labelled series whose label values are not known in advance starts absent
    assert "imagegate_source_rate_limit_remaining{" not in text
    assert all(f.documentation for f in parse(text).values())  # every metric has HELP


def test_watch_metrics_track_runs_and_sync_state():
    metrics = WatchMetrics()
    metrics.observe_run(RunRecord(T0, T0 + timedelta(seconds=12.5), "failure", "boom"))
    after_failure = samples(metrics.render())
    assert after_failure[("imagegate_last_run_success", ())] == 0
    assert ("imagegate_last_success_timestamp_seconds", ()) not in after_failure

    metrics.observe_run(RunRecord(T0, T0 + timedelta(seconds=4), "success"))
    metrics.set_sync_state(
        images={SyncStateLabel.IN_SYNC: 7, SyncStateLabel.OUT_OF_SYNC: 1},
        tags={SyncStateLabel.IN_SYNC: 40, SyncStateLabel.HELD: 3, SyncStateLabel.OUT_OF_SYNC: 2},
        pending_changes=3,
    )
    metrics.add_copied_bytes(1024)
    metrics.add_copied_bytes(1024)
    metrics.observe_copies([0.3, 7.0])
    metrics.count_error(ErrorKind.IMAGE, 2)
    metrics.set_rate_limit("docker.io", 97)
    metrics.set_rate_limit("ghcr.io", 5000)

    text = metrics.render()
    v = samples(text)
    assert v[("imagegate_runs_total", (("result", "success"),))] == 1
    assert v[("imagegate_runs_total", (("result", "failure"),))] == 1
    assert v[("imagegate_runs_total", (("result", "cancelled"),))] == 0
    assert v[("imagegate_last_run_success", ())] == 1
    assert v[("imagegate_last_run_timestamp_seconds", ())] == T0.timestamp() + 4
    assert v[("imagegate_last_success_timestamp_seconds", ())] == T0.timestamp() + 4
    assert v[("imagegate_run_duration_seconds_count", ())] == 2
    assert v[("imagegate_run_duration_seconds_sum", ())] == 16.5
    assert v[("imagegate_run_duration_seconds_bucket", (("le", "5.0"),))] == 1
    assert v[("imagegate_run_duration_seconds_bucket", (("le", "15.0"),))] == 2
    assert v[("imagegate_copy_duration_seconds_count", ())] == 2
    assert v[("imagegate_copy_duration_seconds_bucket", (("le", "0.5"),))] == 1
    assert v[("imagegate_images", (("state", "in_sync"),))] == 7
    assert v[("imagegate_images", (("state", "held"),))] == 0  # left out: zero
    assert v[("imagegate_images", (("state", "out_of_sync"),))] == 1
    assert v[("imagegate_tags", (("state", "held"),))] == 3
    assert v[("imagegate_pending_changes", ())] == 3
    assert v[("imagegate_copied_bytes_total", ())] == 2048
    assert v[("imagegate_errors_total", (("kind", "run"),))] == 1
    assert v[("imagegate_errors_total", (("kind", "image"),))] == 2
    assert v[("imagegate_source_rate_limit_remaining", (("registry", "docker.io"),))] == 97
    assert v[("imagegate_source_rate_limit_remaining", (("registry", "ghcr.io"),))] == 5000
    families = parse(text)
    assert families["imagegate_runs"].type == "counter"
    assert families["imagegate_copied_bytes"].type == "counter"
    assert families["imagegate_run_duration_seconds"].type == "histogram"
    assert families["imagegate_tags"].type == "gauge"
    # the old names are gone (docs/watch.md lists the renames)
    for old in ("imagegate_bytes_copied_total", "imagegate_tags_in_sync", "imagegate_tags_held"):
        assert old not in text


def test_each_watcher_has_its_own_registry():
    first, second = WatchMetrics(), WatchMetrics()  # no "Duplicated timeseries" error
    first.add_copied_bytes(5)
    assert samples(second.render())[("imagegate_copied_bytes_total", ())] == 0
    assert samples(first.render())[("imagegate_copied_bytes_total", ())] == 5
