"""The benchmark harness runs end to end on a tiny corpus and reports every metric."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from bench.cold import main as cold_main
from bench.report import REQUIRED
from bench.run import main as bench_main

from tests.support.registry_server import REGISTRY_BINARY

pytestmark = pytest.mark.skipif(
    shutil.which("skopeo") is None or not os.access(REGISTRY_BINARY, os.X_OK),
    reason="needs skopeo and docker-registry (apt-get install skopeo docker-registry)",
)


def test_bench_tiny_profile_produces_every_metric(tmp_path: Path, capsys):
    assert bench_main(["--profile", "tiny", "--repeat", "1", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    res = json.loads((tmp_path / "latest.json").read_text())
    assert set(REQUIRED) <= set(res)
    tags = res["corpus"]["tags"]
    # Both tools really mirrored the corpus: every target tag has the source digest.
    assert res["cold"]["tags_verified"] == {"imagegate": tags, "skopeo": tags}
    assert res["cold"]["imagegate"]["target_new_blob_bytes"] >= res["corpus"]["bytes"]
    assert res["cold"]["ratio"] > 0
    # No-op: imagegate reads nothing from the source; skopeo re-reads the manifests.
    assert res["noop"]["imagegate"]["source_gets"] == 0
    assert res["noop"]["skopeo"]["source_gets"] >= tags
    # Incremental: exactly the changed blobs were read, by both tools.
    assert res["incremental"]["changed_blob_bytes"] > 0
    assert res["incremental"]["imagegate"]["bytes_ratio"] == 1.0
    # Peak RSS is the tool's own (the harness holds more than that in memory).
    for tool in ("imagegate", "skopeo"):
        assert 5 < res["memory"][tool]["peak_rss_mib"] < 150
    assert res["raw"]["bytes"] == res["corpus"]["bytes"]
    # The raw copy streamed every unique blob into its own target: GET, POST, PUT each.
    assert res["raw_copy"]["bytes"] == res["corpus"]["bytes"]
    assert res["raw_copy"]["requests"] == 3 * res["corpus"]["blobs"]
    plan = res["scale"]["imagegate_plan"]
    assert plan["requests"] >= 2 * res["scale"]["tags"]  # a HEAD on each side per tag
    assert plan["requests_per_s"] > 0
    assert "| cold sync, wall" in table and "scale: no-op check of 20 tags" in table


def test_cold_comparison_with_the_raw_copy_on_the_tiny_profile(tmp_path: Path, capsys):
    argv = ["--profile", "tiny", "--repeat", "1", "--no-skopeo", "--out", str(tmp_path)]
    assert cold_main(argv) == 0
    (found,) = tmp_path.glob("cold-tiny-*.json")
    res = json.loads(found.read_text())
    summary = res["summary"]
    # The raw copy: GET, POST and PUT per unique blob, nothing else.
    assert summary["raw"]["source_requests"] == {"GET": res["corpus"]["blobs"]}
    assert summary["raw"]["target_requests"] == {
        "POST": res["corpus"]["blobs"],
        "PUT": res["corpus"]["blobs"],
    }
    assert summary["imagegate"]["x_raw_median"] > 0
    assert "| raw |" in capsys.readouterr().out


def test_cold_comparison_runs_the_raw_copy_at_each_concurrency_asked(tmp_path: Path, capsys):
    argv = ["--profile", "tiny", "--repeat", "1", "--no-skopeo", "--out", str(tmp_path)]
    assert cold_main([*argv, "--raw-concurrency", "8,2"]) == 0
    (found,) = tmp_path.glob("cold-tiny-*.json")
    res = json.loads(found.read_text())
    summary = res["summary"]
    assert res["names"][:2] == ["raw2", "raw8"]
    assert summary["raw2"]["raw_concurrency"] == 2
    # The table's ratios stay against the raw copy at 8 in flight; both are given too.
    assert summary["reference_raw"] == "raw8"
    assert "x_raw_median" not in summary["raw8"]
    assert summary["raw2"]["x_raw_median"] > 0
    assert set(summary["imagegate"]["x_each_raw_median"]) == {"raw2", "raw8"}
    for raw in ("raw2", "raw8"):  # each one copied every unique blob once
        assert summary[raw]["target_requests"] == {
            "POST": res["corpus"]["blobs"],
            "PUT": res["corpus"]["blobs"],
        }
    assert "the raw copy at 2 in flight" in capsys.readouterr().out
