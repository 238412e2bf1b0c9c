"""The measured phases of a benchmark run, each returning a JSON-ready dict."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from tests.support.images import BuiltIndex
from tests.support.pusher import Pusher

from bench import tools
from bench.corpus import Corpus, push_images, upstream_changes
from bench.procs import ProcResult
from bench.registries import LoggedRegistry, Traffic

LOG_SETTLE = 0.2  # seconds for the registry to write its last access-log lines


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One sync by one tool: the process, and what the source and target saw."""

    proc: ProcResult
    source: Traffic
    target: Traffic
    target_new_blob_bytes: int
    registries_cpu: float  # CPU seconds the source and target registries used meanwhile

    def as_dict(self) -> dict[str, object]:
        return {
            "seconds": round(self.proc.seconds, 3),
            "cpu_seconds": round(self.proc.cpu_seconds, 3),
            "registries_cpu_seconds": round(self.registries_cpu, 3),
            "peak_rss_mib": round(self.proc.peak_rss_mib, 1),
            "source_requests": self.source.methods(),
            "source_gets": self.source.by_method.get("GET", 0),
            "source_blob_bytes_read": self.source.blob_get_bytes,
            "target_requests": self.target.methods(),
            "target_new_blob_bytes": self.target_new_blob_bytes,
        }


def measured(
    source: LoggedRegistry, target: LoggedRegistry, action: Callable[[], ProcResult]
) -> ToolRun:
    src_mark, dst_mark = source.mark(), target.mark()
    blobs_before = target.blob_bytes()
    cpu_before = source.cpu_seconds() + target.cpu_seconds()
    proc = action()
    time.sleep(LOG_SETTLE)
    cpu = source.cpu_seconds() + target.cpu_seconds() - cpu_before
    after = target.blob_bytes()
    new_bytes = sum(size for d, size in after.items() if d not in blobs_before)
    return ToolRun(
        proc, source.traffic_since(src_mark), target.traffic_since(dst_mark), new_bytes, cpu
    )


@dataclass(slots=True)
class Side:
    """One tool with its own empty target registry and its own config file."""

    name: str
    target: LoggedRegistry
    sync: Callable[[], ProcResult]

    def run(self, source: LoggedRegistry) -> ToolRun:
        return measured(source, self.target, self.sync)


def make_sides(
    work: Path,
    source: LoggedRegistry,
    targets: tuple[LoggedRegistry, LoggedRegistry],
    tags: Mapping[str, Sequence[str]],
) -> tuple[Side, Side]:
    ig_cfg = tools.imagegate_config(
        work / "imagegate.yaml",
        source=source.host,
        target=targets[0].host,
        tags=tags,
        state=work / "imagegate-state.db",
    )
    sk_yaml = tools.skopeo_yaml(work / "skopeo-sync.yaml", source=source.host, tags=tags)

    def ig() -> ProcResult:
        return tools.imagegate_sync(ig_cfg)[0]

    def sk() -> ProcResult:
        return tools.skopeo_sync(sk_yaml, targets[1].host)

    return Side("imagegate", targets[0], ig), Side("skopeo", targets[1], sk)


def verify_target(target: LoggedRegistry, images: Mapping[tuple[str, str], BuiltIndex]) -> int:
    """Every tag on the target has the source digest; returns how many were checked."""
    p = Pusher(target.url)
    for (repo, tag), img in images.items():
        name = f"{tools.NAMESPACE}/{repo.rsplit('/', 1)[-1]}"
        got = p.head_manifest(name, tag)
        if got != img.digest:
            raise RuntimeError(f"{target.host}/{name}:{tag} is {got}, expected {img.digest}")
    return len(images)


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


FreshSides = Callable[[int], AbstractContextManager[tuple[Side, Side]]]


def _median_run(runs: Sequence[ToolRun]) -> dict[str, object]:
    """The first run's figures, with ``seconds`` and ``cpu_seconds`` the medians of all."""
    out = runs[0].as_dict()
    out["seconds"] = round(statistics.median(r.proc.seconds for r in runs), 3)
    out["cpu_seconds"] = round(statistics.median(r.proc.cpu_seconds for r in runs), 3)
    out["registries_cpu_seconds"] = round(statistics.median(r.registries_cpu for r in runs), 3)
    out["runs_seconds"] = [round(r.proc.seconds, 3) for r in runs]
    return out


def _median_seconds(runs: Sequence[ToolRun]) -> float:
    return statistics.median(r.proc.seconds for r in runs)


def _both(source: LoggedRegistry, sides: tuple[Side, Side], turn: int) -> dict[str, ToolRun]:
    """Run each side once; who goes first alternates with ``turn``."""
    order = sides if turn % 2 == 0 else (sides[1], sides[0])
    return {s.name: s.run(source) for s in order}


def sync_phases(
    corpus: Corpus,
    source: LoggedRegistry,
    sides: tuple[Side, Side],
    *,
    repeat: int = 1,
    fresh_sides: FreshSides | None = None,
) -> dict[str, object]:
    """Cold sync (``repeat`` times, into fresh targets after the first), no-op re-sync
    (``repeat`` times), then a few upstream rebuilds and an incremental sync."""
    out: dict[str, object] = {}
    cold: dict[str, list[ToolRun]] = {"imagegate": [], "skopeo": []}
    for name, run in _both(source, sides, 0).items():
        cold[name].append(run)
    checked = {s.name: verify_target(s.target, corpus.images) for s in sides}
    for i in range(1, repeat):
        if fresh_sides is None:
            break
        with fresh_sides(i) as extra:
            for name, run in _both(source, extra, i).items():
                cold[name].append(run)
    figures = {k: _median_run(v) for k, v in cold.items()}
    out["cold"] = {
        **figures,
        "ratio": ratio(_median_seconds(cold["imagegate"]), _median_seconds(cold["skopeo"])),
        "goal": 0.5,
        "tags_verified": checked,
    }
    noops: dict[str, list[ToolRun]] = {"imagegate": [], "skopeo": []}
    for i in range(repeat):
        for name, run in _both(source, sides, i).items():
            noops[name].append(run)
    noop_figures = {k: _median_run(v) for k, v in noops.items()}
    out["noop"] = {
        **noop_figures,
        "ratio": ratio(_median_seconds(noops["imagegate"]), _median_seconds(noops["skopeo"])),
        "goal_source_gets": 0,
    }
    changed = upstream_changes(corpus)
    push_images(source.url, changed, corpus.shared)
    known = corpus.unique_blobs()
    fresh: dict[str, int] = {}
    for img in changed.values():
        fresh.update((d, len(b)) for d, b in img.blobs.items() if d not in known)
    changed_layer_bytes = sum(fresh.values())
    inc = {s.name: s.run(source) for s in sides}
    after = dict(corpus.images)
    after.update(changed)
    for s in sides:
        verify_target(s.target, after)
    out["incremental"] = {
        **{
            k: {
                **v.as_dict(),
                "bytes_ratio": ratio(v.source.blob_get_bytes, changed_layer_bytes),
            }
            for k, v in inc.items()
        },
        "changed_tags": len(changed),
        "changed_blobs": len(fresh),
        "changed_blob_bytes": changed_layer_bytes,
        "ratio": ratio(inc["imagegate"].proc.seconds, inc["skopeo"].proc.seconds),
        "goal_bytes_ratio": 1.0,
    }
    corpus.images.update(changed)
    return out
