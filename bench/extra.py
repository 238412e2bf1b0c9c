"""Phases outside the corpus syncs: raw read limit, peak memory on one big layer, 1,000 tags."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench import tools
from bench.corpus import Corpus
from bench.phases import measured, ratio
from bench.procs import run_timed
from bench.rawcopy import copy_every_blob
from bench.rawread import read_every_blob
from bench.registries import LoggedRegistry, start_registry
from bench.special import push_big_image, push_scale, scale_tags


def raw_limit(corpus: Corpus, source: LoggedRegistry) -> dict[str, object]:
    raw = read_every_blob(source.url, corpus.where())
    return {
        "seconds": round(raw.seconds, 3),
        "blobs": raw.blobs,
        "bytes": raw.bytes,
        "mib_per_s": round(raw.mib_per_s, 1),
    }


def raw_copy(corpus: Corpus, source: LoggedRegistry, work: Path) -> dict[str, object]:
    """The floor of a cold sync: every unique blob streamed once into a new, empty target."""
    target = start_registry(work / "raw-copy-target")
    try:
        raw = copy_every_blob(source.url, target.url, corpus.where())
    finally:
        target.stop()
    return {
        "seconds": round(raw.seconds, 3),
        "blobs": raw.blobs,
        "bytes": raw.bytes,
        "requests": raw.requests,
        "mib_per_s": round(raw.mib_per_s, 1),
    }


def peak_memory(
    raw_size: int, source: LoggedRegistry, targets: tuple[LoggedRegistry, LoggedRegistry]
) -> dict[str, object]:
    """Copy one image with one ``raw_size`` layer with each tool; the child's VmHWM."""
    big = push_big_image(source.url, raw_size)
    src = f"{source.host}/{big.repo}:{big.tag}"
    idle = run_timed(tools.imagegate("--version")).check()
    ig = measured(source, targets[0], lambda: tools.imagegate_copy(src, f"{targets[0].host}/big"))
    sk = measured(
        source, targets[1], lambda: tools.skopeo_copy(src, f"{targets[1].host}/big/layer:1")
    )
    out: dict[str, object] = {"layer_bytes": big.layer_size, "goal_mib": 150}
    for name, run in (("imagegate", ig), ("skopeo", sk)):
        if run.target_new_blob_bytes < big.layer_size:
            raise RuntimeError(f"{name} did not copy the big layer")
        out[name] = {
            "peak_rss_mib": round(run.proc.peak_rss_mib, 1),
            "seconds": round(run.proc.seconds, 3),
            "cpu_seconds": round(run.proc.user_cpu + run.proc.sys_cpu, 3),
            "mib_per_s": round(big.layer_size / 1048576 / run.proc.seconds, 1),
        }
    out["imagegate_idle_rss_mib"] = round(idle.peak_rss_mib, 1)
    out["imagegate_startup_seconds"] = round(idle.seconds, 3)
    return out


def scale(
    work: Path,
    tags: int,
    source: LoggedRegistry,
    targets: tuple[LoggedRegistry, LoggedRegistry],
    startup_seconds: float,
) -> dict[str, object]:
    """A no-op check of ``tags`` tags that are already mirrored: imagegate plan (and, for
    context, skopeo sync of the same tags, which has no plan mode)."""
    per_repo = scale_tags(tags)
    push_scale(source.url, per_repo)
    mirrored = {f"{tools.NAMESPACE}/{r.rsplit('/', 1)[-1]}": t for r, t in per_repo.items()}
    for t in targets:
        push_scale(t.url, mirrored)
    cfg = tools.imagegate_config(
        work / "scale.yaml",
        source=source.host,
        target=targets[0].host,
        tags=per_repo,
        state=work / "scale-state.db",
    )
    plan_argv = tools.imagegate("plan", "-c", str(cfg), "--output", "json")
    src_mark, dst_mark = source.mark(), targets[0].mark()
    began = time.monotonic()
    plan = run_timed(plan_argv).check()
    wall = time.monotonic() - began
    time.sleep(0.2)
    src_traffic, dst_traffic = source.traffic_since(src_mark), targets[0].traffic_since(dst_mark)
    doc = json.loads(plan.stdout)
    changes = sum(1 for a in doc["actions"] if a["change"])
    if changes:
        raise RuntimeError(f"the scale plan should be a no-op but has {changes} changes")
    requests = src_traffic.total + dst_traffic.total
    startup = startup_seconds
    sk_yaml = tools.skopeo_yaml(work / "scale-skopeo.yaml", source=source.host, tags=per_repo)
    sk = measured(source, targets[1], lambda: tools.skopeo_sync(sk_yaml, targets[1].host))
    return {
        "tags": tags,
        "imagegate_plan": {
            "seconds": round(wall, 3),
            "requests": requests,
            "source_requests": src_traffic.methods(),
            "target_requests": dst_traffic.methods(),
            "requests_per_s": round(requests / wall, 1),
            "requests_per_s_after_startup": round(requests / max(wall - startup, 1e-3), 1),
            "startup_seconds": round(startup, 3),
            "peak_rss_mib": round(plan.peak_rss_mib, 1),
        },
        "skopeo_sync_noop": {
            "seconds": round(sk.proc.seconds, 3),
            "source_requests": sk.source.methods(),
            "target_requests": sk.target.methods(),
            "requests_per_s": round((sk.source.total + sk.target.total) / sk.proc.seconds, 1),
        },
        "ratio": ratio(wall, sk.proc.seconds),
    }
