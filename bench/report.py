"""Results -> JSON file and the Markdown table of docs/benchmarks.md."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REQUIRED = (
    "environment",
    "corpus",
    "cold",
    "noop",
    "incremental",
    "memory",
    "raw",
    "raw_copy",
    "scale",
)
RAW_COPY_GOAL = 1.1  # imagegate's cold sync at most this multiple of the raw copy
BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


def _mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"


def _methods(d: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"


def _r(x: object) -> str:
    return "n/a" if x is None else f"{x}"


def _ok(cond: bool) -> str:
    return "met" if cond else "**not met**"


def render_markdown(res: Mapping[str, Any]) -> str:
    missing = [k for k in REQUIRED if k not in res]
    if missing:
        raise ValueError(f"results lack {', '.join(missing)}")
    env, corpus = res["environment"], res["corpus"]
    cold, noop, inc = res["cold"], res["noop"], res["incremental"]
    mem, raw, sc, rc = res["memory"], res["raw"], res["scale"], res["raw_copy"]
    ig_cold = cold["imagegate"]["seconds"]
    multiple = round(ig_cold / raw["seconds"], 2) if raw["seconds"] else None
    sk_multiple = round(cold["skopeo"]["seconds"] / raw["seconds"], 2) if raw["seconds"] else None
    x_copy = round(ig_cold / rc["seconds"], 2) if rc["seconds"] else None
    sk_x_copy = round(cold["skopeo"]["seconds"] / rc["seconds"], 2) if rc["seconds"] else None
    igp = sc["imagegate_plan"]
    rows = [
        ("metric", "imagegate", "skopeo", "ratio / figure", "goal"),
        (
            f"cold sync, wall (median of {len(cold['imagegate']['runs_seconds'])})",
            f"{ig_cold:.2f} s",
            f"{cold['skopeo']['seconds']:.2f} s",
            f"{_r(cold['ratio'])} (imagegate / skopeo)",
            f"≤ 0.5: {_ok(cold['ratio'] is not None and cold['ratio'] <= 0.5)}",
        ),
        (
            "cold sync, CPU time of the tool",
            f"{cold['imagegate']['cpu_seconds']:.2f} s",
            f"{cold['skopeo']['cpu_seconds']:.2f} s",
            _r(
                round(cold["imagegate"]["cpu_seconds"] / cold["skopeo"]["cpu_seconds"], 3)
                if cold["skopeo"]["cpu_seconds"]
                else None
            ),
            "",
        ),
        (
            "cold sync, CPU time of both registries meanwhile",
            f"{cold['imagegate']['registries_cpu_seconds']:.2f} s",
            f"{cold['skopeo']['registries_cpu_seconds']:.2f} s",
            "",
            "",
        ),
        (
            "no-op re-sync: source requests",
            _methods(noop["imagegate"]["source_requests"]),
            _methods(noop["skopeo"]["source_requests"]),
            f"GETs {noop['imagegate']['source_gets']} vs {noop['skopeo']['source_gets']}",
            f"0 GETs: {_ok(noop['imagegate']['source_gets'] == 0)}",
        ),
        (
            "no-op re-sync: target requests",
            _methods(noop["imagegate"]["target_requests"]),
            _methods(noop["skopeo"]["target_requests"]),
            "",
            "",
        ),
        (
            "no-op re-sync, wall",
            f"{noop['imagegate']['seconds']:.2f} s",
            f"{noop['skopeo']['seconds']:.2f} s",
            f"{_r(noop['ratio'])}",
            "",
        ),
        (
            f"incremental ({inc['changed_tags']} tags rebuilt): blob bytes read from source",
            _mib(inc["imagegate"]["source_blob_bytes_read"]),
            _mib(inc["skopeo"]["source_blob_bytes_read"]),
            f"{_r(inc['imagegate']['bytes_ratio'])} vs {_r(inc['skopeo']['bytes_ratio'])} "
            f"x the {_mib(inc['changed_blob_bytes'])} of changed blobs",
            f"1.0: {_ok(inc['imagegate']['bytes_ratio'] == 1.0)}",
        ),
        (
            "incremental sync, wall",
            f"{inc['imagegate']['seconds']:.2f} s",
            f"{inc['skopeo']['seconds']:.2f} s",
            f"{_r(inc['ratio'])}",
            "",
        ),
        (
            f"peak RSS copying a {_mib(mem['layer_bytes'])} layer",
            f"{mem['imagegate']['peak_rss_mib']} MiB",
            f"{mem['skopeo']['peak_rss_mib']} MiB",
            f"imagegate idle: {mem['imagegate_idle_rss_mib']} MiB",
            f"< 150 MiB: {_ok(mem['imagegate']['peak_rss_mib'] < 150)}",
        ),
        (
            "that copy, wall (throughput)",
            f"{mem['imagegate']['seconds']:.2f} s ({mem['imagegate']['mib_per_s']} MiB/s)",
            f"{mem['skopeo']['seconds']:.2f} s ({mem['skopeo']['mib_per_s']} MiB/s)",
            _r(round(mem["imagegate"]["seconds"] / mem["skopeo"]["seconds"], 3)),
            "",
        ),
        (
            "raw limit: read every unique blob once",
            f"cold sync = {_r(multiple)} x raw",
            f"cold sync = {_r(sk_multiple)} x raw",
            f"{raw['seconds']:.2f} s for {_mib(raw['bytes'])} ({raw['mib_per_s']} MiB/s)",
            "",
        ),
        (
            "raw copy: every unique blob streamed once into an empty target",
            f"cold sync = {_r(x_copy)} x raw copy",
            f"cold sync = {_r(sk_x_copy)} x raw copy",
            f"{rc['seconds']:.2f} s for {_mib(rc['bytes'])} ({rc['mib_per_s']} MiB/s)",
            f"≤ {RAW_COPY_GOAL}: {_ok(x_copy is not None and x_copy <= RAW_COPY_GOAL)}",
        ),
        (
            f"scale: no-op check of {sc['tags']} tags",
            f"plan {igp['seconds']:.2f} s, {igp['requests']} requests, "
            f"{igp['requests_per_s']} req/s ({igp['requests_per_s_after_startup']} after "
            f"{igp['startup_seconds']:.2f} s start-up)",
            f"sync {sc['skopeo_sync_noop']['seconds']:.2f} s, "
            f"{sc['skopeo_sync_noop']['requests_per_s']} req/s",
            f"{_r(sc['ratio'])}",
            "",
        ),
    ]
    lines = [
        f"Profile `{env['profile']}` on {env['cpus']} CPUs, {env['date']}; imagegate "
        f"{env['imagegate']}, {env['skopeo']}, {env['registry']}. Corpus: {corpus['repos']} "
        f"repositories, {corpus['tags']} tags ({corpus['platforms']} platforms each), "
        f"{corpus['manifests']} manifests, {corpus['blobs']} unique blobs, "
        f"{_mib(corpus['bytes'])} (layers {_mib(corpus['smallest_layer'])} to "
        f"{_mib(corpus['largest_layer'])}, {corpus['shared_layers']} layers shared across "
        "repositories).",
        "",
    ]
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(row) + " |")
        if i == 0:
            lines.append("| " + " | ".join("---" for _ in row) + " |")
    return "\n".join(lines) + "\n"


def write_results(res: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = re.sub(r"[^0-9T]", "", str(res["environment"]["date"]))[:15]
    name = f"{res['environment']['profile']}-{stamp}"
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    md_path = out_dir / f"{name}.md"
    md_path.write_text(render_markdown(res))
    (out_dir / "latest.json").write_text(json_path.read_text())
    return json_path, md_path


def update_doc(doc: Path, table: str) -> None:
    """Replace the text between the results markers of ``doc`` with ``table``."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{doc} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")
