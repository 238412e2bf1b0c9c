"""The benchmark harness's pure parts: access-log counting, report rendering, doc update."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from bench.registries import parse_access_log
from bench.report import BEGIN, END, REQUIRED, render_markdown, update_doc, write_results

LOG = """\
127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "GET /v2/ HTTP/1.1" 200 2 "" ""
127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "HEAD /v2/a/b/manifests/1 HTTP/1.1" 200 732 "" ""
127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "GET /v2/a/b/manifests/sha256:ab HTTP/1.1" 200 732 "" ""
127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "GET /v2/a/b/blobs/sha256:cd HTTP/1.1" 200 1048576 "" ""
127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "GET /v2/a/b/blobs/sha256:ef HTTP/1.1" 404 157 "" ""
127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "PUT /v2/a/b/blobs/uploads/x?d=1 HTTP/1.1" 201 0 "" ""
time="2026-11-28T08:55:37Z" level=error msg="not an access log line"
"""

# What a tiny run produces (trimmed to what the renderer reads).
TOOL = {
    "seconds": 1.5,
    "cpu_seconds": 1.0,
    "registries_cpu_seconds": 0.5,
    "source_requests": {"HEAD": 4},
    "source_gets": 0,
    "target_requests": {"HEAD": 4},
    "source_blob_bytes_read": 2048,
    "bytes_ratio": 1.0,
    "runs_seconds": [1.5],
    "peak_rss_mib": 40.0,
    "mib_per_s": 10.0,
}
RAW_COPY = {"seconds": 1.25, "bytes": 1048576, "requests": 60, "mib_per_s": 0.8}
RESULTS = {
    "environment": {
        "profile": "tiny",
        "date": "2026-11-28T09:00:00Z",
        "cpus": 2,
        "imagegate": "0.1.0",
        "skopeo": "skopeo version 1.9.3",
        "registry": "distribution 2.8.2",
    },
    "corpus": {
        "repos": 2,
        "tags": 4,
        "platforms": 2,
        "manifests": 12,
        "blobs": 20,
        "bytes": 1048576,
        "smallest_layer": 1024,
        "largest_layer": 262144,
        "shared_layers": 2,
    },
    "cold": {"imagegate": TOOL, "skopeo": {**TOOL, "seconds": 3.0}, "ratio": 0.5},
    "noop": {"imagegate": TOOL, "skopeo": {**TOOL, "source_gets": 8}, "ratio": 0.3},
    "incremental": {
        "imagegate": TOOL,
        "skopeo": TOOL,
        "changed_tags": 1,
        "changed_blob_bytes": 2048,
        "ratio": 1.2,
    },
    "memory": {
        "layer_bytes": 1048576,
        "imagegate": TOOL,
        "skopeo": {**TOOL, "peak_rss_mib": 20.0},
        "imagegate_idle_rss_mib": 38.0,
    },
    "raw": {"seconds": 0.5, "bytes": 1048576, "mib_per_s": 2.0},
    "raw_copy": RAW_COPY,
    "scale": {
        "tags": 20,
        "imagegate_plan": {
            "seconds": 1.0,
            "requests": 40,
            "requests_per_s": 40.0,
            "requests_per_s_after_startup": 80.0,
            "startup_seconds": 0.5,
        },
        "skopeo_sync_noop": {"seconds": 0.5, "requests_per_s": 100.0},
        "ratio": 2.0,
    },
}


def test_access_log_counts_methods_and_successful_blob_reads():
    traffic = parse_access_log(LOG)
    assert traffic.methods() == {"GET": 4, "HEAD": 1, "PUT": 1}
    assert traffic.total == 6
    assert traffic.blob_gets == 1  # the 404 read nothing
    assert traffic.blob_get_bytes == 1048576
    assert traffic.manifest_gets == 1


def test_report_has_a_row_per_metric_and_says_which_goals_are_met():
    md = render_markdown(RESULTS)
    for label in (
        "cold sync, wall",
        "no-op re-sync: source requests",
        "incremental (1 tags rebuilt)",
        "peak RSS copying a 1.0 MiB layer",
        "raw limit",
        "scale: no-op check of 20 tags",
    ):
        assert label in md, label
    assert "≤ 0.5: met" in md  # ratio 0.5
    assert "0 GETs: met" in md
    assert "cold sync = 3.0 x raw" in md  # 1.5 s / 0.5 s
    assert "cold sync = 1.2 x raw copy" in md  # 1.5 s / 1.25 s
    assert "≤ 1.1: **not met**" in md


def test_raw_copy_goal_is_met_at_most_one_point_one_times_the_raw_copy():
    res = copy.deepcopy(RESULTS)
    res["raw_copy"] = {**RAW_COPY, "seconds": 1.4}  # 1.5 s / 1.4 s = 1.07
    assert "≤ 1.1: met" in render_markdown(res)


def test_report_refuses_results_missing_a_metric():
    partial = copy.deepcopy(RESULTS)
    del partial["memory"]
    with pytest.raises(ValueError, match="memory"):
        render_markdown(partial)
    assert set(REQUIRED) <= set(RESULTS)


def test_results_written_as_json_and_doc_table_replaced(tmp_path: Path):
    json_path, md_path = write_results(RESULTS, tmp_path / "out")
    assert json.loads(json_path.read_text())["scale"]["tags"] == 20
    assert json.loads((tmp_path / "out" / "latest.json").read_text()) == json.loads(
        json_path.read_text()
    )
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nintro\n\n{BEGIN}\nold table\n{END}\n\nmethod\n")
    update_doc(doc, md_path.read_text())
    text = doc.read_text()
    assert "old table" not in text
    assert text.startswith("# Benchmarks\n\nintro\n")
    assert text.rstrip().endswith("method")
    assert "| cold sync, wall" in text
