"""``python -m bench.cold [--profile small] [--repeat N] [--before SRC]``: cold sync vs raw copy.

One source registry holds the corpus; every repetition starts new empty targets and runs,
in an order that rotates between repetitions: the raw copy (:mod:`bench.rawcopy`, the
floor), ``imagegate sync``, ``skopeo sync`` and, with ``--before SRC``, ``imagegate sync``
run from another source tree (``PYTHONPATH=SRC``, e.g. an export of an older commit) for a
before/after comparison under the same load. Each tool's wall time is divided by the raw
copy of the same repetition; the medians of those ratios are reported, with every run's
figures and the requests each tool sent (from the registries' access logs).
``--raw-concurrency 4,8`` runs the raw copy at each of those numbers of blobs in flight
(``raw4``, ``raw8``); ratios are given against each, the table's against 8.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import tools
from bench.bytecode import compile_tree
from bench.corpus import PROFILES, build_corpus, push_images
from bench.phases import verify_target
from bench.procs import ProcResult, run_timed
from bench.rawcopy import copy_every_blob
from bench.registries import LoggedRegistry, Traffic, start_registry
from bench.run import OUT_DIR, corpus_stats, environment, log, workdir

LOG_SETTLE = 0.2
GOAL = 1.1  # imagegate's cold sync at most this multiple of the raw copy
RAW_CONCURRENCY = 8  # the reference raw copy: as many blobs in flight as imagegate's bound


def raw_names(levels: Sequence[int]) -> dict[str, int]:
    """Runner name -> blobs in flight: ``raw`` alone, or ``raw4``, ``raw8``... for several."""
    if len(levels) == 1:
        return {"raw": levels[0]}
    return {f"raw{n}": n for n in levels}


def reference_raw(raws: Mapping[str, int]) -> str:
    """The raw copy every ratio is taken against by default: the one at 8 in flight (else
    the one with the most)."""
    at8 = [name for name, n in raws.items() if n == RAW_CONCURRENCY]
    return at8[0] if at8 else max(raws, key=lambda name: raws[name])


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    cpu_seconds: float
    registries_cpu: float
    source: Traffic
    target: Traffic
    inner_seconds: float | None = None  # the run's own time, as `imagegate sync` reports it

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "registries_cpu_seconds": round(self.registries_cpu, 3),
            "source_requests": self.source.methods(),
            "target_requests": self.target.methods(),
        }
        if self.inner_seconds is not None:
            out["run_seconds"] = round(self.inner_seconds, 3)
        return out


def _measure(
    source: LoggedRegistry, target: LoggedRegistry, action: Callable[[], tuple[float, float]]
) -> tuple[float, float, float, Traffic, Traffic]:
    marks = source.mark(), target.mark()
    cpu0 = source.cpu_seconds() + target.cpu_seconds()
    seconds, cpu = action()
    time.sleep(LOG_SETTLE)
    reg_cpu = source.cpu_seconds() + target.cpu_seconds() - cpu0
    return seconds, cpu, reg_cpu, source.traffic_since(marks[0]), target.traffic_since(marks[1])


def _imagegate(cfg: Path, src_tree: str | None) -> tuple[ProcResult, float]:
    env = dict(os.environ)
    if src_tree is not None:
        env["PYTHONPATH"] = src_tree
    res = run_timed(tools.imagegate("sync", "-c", str(cfg), "--output", "json"), env=env).check()
    return res, float(json.loads(res.stdout).get("seconds", 0.0))


Runner = Callable[[LoggedRegistry, LoggedRegistry, Path], Measured]


def raw_runner(where: Mapping[str, str], concurrency: int = RAW_CONCURRENCY) -> Runner:
    def run(source: LoggedRegistry, target: LoggedRegistry, _work: Path) -> Measured:
        def act() -> tuple[float, float]:
            cpu0 = time.process_time()
            raw = copy_every_blob(source.url, target.url, where, concurrency=concurrency)
            return raw.seconds, time.process_time() - cpu0

        s, cpu, reg, src, dst = _measure(source, target, act)
        return Measured(s, cpu, reg, src, dst)

    return run


def imagegate_runner(tags: Mapping[str, Sequence[str]], src_tree: str | None) -> Runner:
    def run(source: LoggedRegistry, target: LoggedRegistry, work: Path) -> Measured:
        cfg = tools.imagegate_config(
            work / "imagegate.yaml",
            source=source.host,
            target=target.host,
            tags=tags,
            state=work / "state.db",
        )
        inner: list[float] = []

        def act() -> tuple[float, float]:
            res, run_seconds = _imagegate(cfg, src_tree)
            inner.append(run_seconds)
            return res.seconds, res.cpu_seconds

        s, cpu, reg, src, dst = _measure(source, target, act)
        return Measured(s, cpu, reg, src, dst, inner[0])

    return run


def skopeo_runner(tags: Mapping[str, Sequence[str]]) -> Runner:
    def run(source: LoggedRegistry, target: LoggedRegistry, work: Path) -> Measured:
        yml = tools.skopeo_yaml(work / "skopeo.yaml", source=source.host, tags=tags)

        def act() -> tuple[float, float]:
            res = tools.skopeo_sync(yml, target.host)
            return res.seconds, res.cpu_seconds

        s, cpu, reg, src, dst = _measure(source, target, act)
        return Measured(s, cpu, reg, src, dst)

    return run


@contextlib.contextmanager
def fresh_target(base: Path) -> Iterator[LoggedRegistry]:
    base.mkdir(parents=True)
    reg = start_registry(base / "registry")
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(base, ignore_errors=True)


def _summary(
    runs: list[dict[str, Any]], names: Sequence[str], raws: Mapping[str, int]
) -> dict[str, Any]:
    out: dict[str, Any] = {"reference_raw": reference_raw(raws)}
    ref = out["reference_raw"]
    for name in names:
        secs = [r[name]["seconds"] for r in runs]
        entry: dict[str, Any] = {
            "median_seconds": round(statistics.median(secs), 3),
            "runs_seconds": secs,
            "median_cpu_seconds": round(statistics.median(r[name]["cpu_seconds"] for r in runs), 3),
            "median_registries_cpu_seconds": round(
                statistics.median(r[name]["registries_cpu_seconds"] for r in runs), 3
            ),
            "source_requests": runs[0][name]["source_requests"],
            "target_requests": runs[0][name]["target_requests"],
        }
        if name in raws:
            entry["raw_concurrency"] = raws[name]
        if name != ref:
            ratios = [r[name]["seconds"] / r[ref]["seconds"] for r in runs]
            entry["x_raw_runs"] = [round(x, 3) for x in ratios]
            entry["x_raw_median"] = round(statistics.median(ratios), 3)
        if len(raws) > 1 and name not in raws:  # against each raw copy too
            entry["x_each_raw_median"] = {
                raw: round(
                    statistics.median(r[name]["seconds"] / r[raw]["seconds"] for r in runs), 3
                )
                for raw in raws
            }
        if "run_seconds" in runs[0][name]:
            entry["median_run_seconds"] = round(
                statistics.median(r[name]["run_seconds"] for r in runs), 3
            )
        out[name] = entry
    if "skopeo" in names:
        ratios = [r["imagegate"]["seconds"] / r["skopeo"]["seconds"] for r in runs]
        out["imagegate_x_skopeo_median"] = round(statistics.median(ratios), 3)
    return out


def render(res: Mapping[str, Any]) -> str:
    env, corpus, s = res["environment"], res["corpus"], res["summary"]
    lines = [
        f"Cold sync vs raw copy, profile `{env['profile']}`, {env['cpus']} CPUs, {env['date']}, "
        f"{env['repeat']} repetitions (load average at start "
        f"{', '.join(str(x) for x in env['load_average_at_start'])}). Corpus: "
        f"{corpus['repos']} repositories x {corpus['tags'] // max(1, corpus['repos'])} tags x "
        f"{corpus['platforms']} platforms, {corpus['blobs']} unique blobs, "
        f"{corpus['bytes'] / 1048576:.1f} MiB.",
        "",
        f"| run | wall, median (each run) | x raw copy ({s['reference_raw']}), median (each run) "
        "| CPU of the tool "
        "| CPU of both registries | requests (source; target) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in res["names"]:
        e = s[name]
        each = ", ".join(f"{x:.2f}" for x in e["runs_seconds"])
        xr = (
            f"{e['x_raw_median']:.2f} ({', '.join(f'{x:.2f}' for x in e['x_raw_runs'])})"
            if "x_raw_median" in e
            else "1"
        )
        reqs = (
            f"{', '.join(f'{k} {v}' for k, v in e['source_requests'].items())}; "
            f"{', '.join(f'{k} {v}' for k, v in e['target_requests'].items())}"
        )
        lines.append(
            f"| {name} | {e['median_seconds']:.2f} s ({each}) | {xr} | "
            f"{e['median_cpu_seconds']:.2f} s | {e['median_registries_cpu_seconds']:.2f} s "
            f"| {reqs} |"
        )
    lines.append("")
    raws = [n for n in res["names"] if "raw_concurrency" in s[n]]
    if len(raws) > 1:
        for name in res["names"]:
            if "x_each_raw_median" in s[name]:
                each_raw = ", ".join(
                    f"{s[raw]['raw_concurrency']} in flight {x:.2f}"
                    for raw, x in s[name]["x_each_raw_median"].items()
                )
                lines.append(f"{name} x the raw copy at {each_raw} (medians).")
        lines.append("")
    if "imagegate_x_skopeo_median" in s:
        lines.append(
            f"imagegate / skopeo, median of the per-repetition ratios: "
            f"{s['imagegate_x_skopeo_median']:.2f}. "
        )
    ig = s["imagegate"]
    if "median_run_seconds" in ig:
        lines.append(
            f"imagegate's own run time (observe, plan, execute; without process start-up, "
            f"configuration and state opening): median {ig['median_run_seconds']:.2f} s."
        )
    lines.append(f"Goal: imagegate at most {GOAL} x the raw copy.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cold", description=__doc__)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="small")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", metavar="SRC", help="also run imagegate from this source tree")
    ap.add_argument("--no-skopeo", action="store_true", help="leave skopeo out")
    ap.add_argument(
        "--raw-concurrency",
        default=str(RAW_CONCURRENCY),
        metavar="N[,N...]",
        help="blobs in flight in the raw copy; several (e.g. 4,8) run one raw copy each, and "
        f"ratios are given against each (the table's against {RAW_CONCURRENCY} if listed)",
    )
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    try:
        levels = sorted({int(x) for x in args.raw_concurrency.split(",") if x.strip()})
    except ValueError:
        ap.error(f"--raw-concurrency: not a list of numbers: {args.raw_concurrency!r}")
    if not levels or levels[0] < 1:
        ap.error("--raw-concurrency: give numbers of at least 1, e.g. 4,8")
    raws = raw_names(levels)
    profile = PROFILES[args.profile]
    compile_tree()  # as installed: no compiling at start-up (see bench/bytecode.py)
    if args.before:
        compile_tree(Path(args.before))
    began = time.monotonic()
    with workdir(False) as work:
        source = start_registry(work / "source")
        try:
            corpus = build_corpus(profile)
            push_images(source.url, corpus.images, corpus.shared)
            tags = {repo: corpus.tags(repo) for repo in corpus.repos}
            runners: dict[str, Runner] = {
                name: raw_runner(corpus.where(), n) for name, n in raws.items()
            }
            runners["imagegate"] = imagegate_runner(tags, None)
            if args.before:
                runners["imagegate-before"] = imagegate_runner(tags, args.before)
            if not args.no_skopeo:
                runners["skopeo"] = skopeo_runner(tags)
            names = list(runners)
            runs: list[dict[str, Any]] = []
            for i in range(args.repeat):
                order = names[i % len(names) :] + names[: i % len(names)]
                rep: dict[str, Any] = {}
                for name in order:
                    with fresh_target(work / f"rep{i}" / name) as target:
                        m = runners[name](source, target, work / f"rep{i}" / name)
                        if name not in raws:
                            verify_target(target, corpus.images)
                        rep[name] = m.as_dict()
                log(
                    f"repetition {i + 1}: "
                    + ", ".join(f"{n} {rep[n]['seconds']:.2f} s" for n in names)
                )
                runs.append(rep)
        finally:
            source.stop()
    env = environment(profile)
    env["repeat"] = args.repeat
    env["raw_concurrency"] = levels
    env["total_seconds"] = round(time.monotonic() - began, 1)
    res = {
        "environment": env,
        "corpus": corpus_stats(corpus),
        "names": names,
        "runs": runs,
        "summary": _summary(runs, names, raws),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = args.out / f"cold-{profile.name}-{stamp}.json"
    path.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    table = render(res)
    (args.out / f"cold-{profile.name}-{stamp}.md").write_text(table)
    print(table)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
