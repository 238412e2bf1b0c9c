"""``python -m bench.run [--quick | --profile NAME]``: imagegate vs skopeo on local registries.

Starts three ``docker-registry`` processes on loopback (one source, one empty target per
tool), generates and pushes the corpus, then measures: cold sync, no-op re-sync, an
incremental sync after upstream rebuilds, the raw read limit and raw copy, peak RSS copying one big
layer, and a no-op check of 1,000 tags. Results go to ``bench/out/`` as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import extra, phases, tools
from bench.corpus import PROFILES, Corpus, Profile, build_corpus, push_images
from bench.registries import LoggedRegistry, start_registry
from imagegate import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "bench" / "out"
DOC = REPO_ROOT / "docs" / "benchmarks.md"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """Registry storage on tmpfs when there is one (as the test suite does)."""
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="imagegate-bench-", dir=base))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def corpus_stats(corpus: Corpus) -> dict[str, object]:
    layers = [
        layer.size for img in corpus.images.values() for c in img.children for layer in c.layers
    ]
    blobs = corpus.unique_blobs()
    manifests = {d for img in corpus.images.values() for d in img.manifests}
    return {
        "repos": len(corpus.repos),
        "tags": len(corpus.images),
        "platforms": len(corpus.profile.platforms),
        "manifests": len(manifests),
        "blobs": len(blobs),
        "bytes": sum(blobs.values()),
        "smallest_layer": min(layers),
        "largest_layer": max(layers),
        "shared_layers": len(corpus.shared),
    }


def environment(profile: Profile) -> dict[str, object]:
    sk = subprocess.run(
        [tools.skopeo_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "profile": profile.name,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "imagegate": __version__,
        "skopeo": sk,
        "registry": "CNCF distribution (docker-registry) 2.8.2",
    }


def fresh_sides_factory(
    work: Path, source: LoggedRegistry, tags: dict[str, list[str]]
) -> phases.FreshSides:
    """Two new empty targets (and a new imagegate state) for one more cold run."""

    @contextlib.contextmanager
    def fresh(i: int) -> Iterator[tuple[phases.Side, phases.Side]]:
        base = work / f"cold-{i}"
        base.mkdir()
        targets = (
            start_registry(base / "target-imagegate"),
            start_registry(base / "target-skopeo"),
        )
        try:
            yield phases.make_sides(base, source, targets, tags)
        finally:
            for t in targets:
                t.stop()
            shutil.rmtree(base, ignore_errors=True)

    return fresh


def run(profile: Profile, work: Path, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"environment": environment(profile)}
    servers: list[LoggedRegistry] = []
    try:
        source = start_registry(work / "source")
        servers.append(source)
        targets = (
            start_registry(work / "target-imagegate"),
            start_registry(work / "target-skopeo"),
        )
        servers.extend(targets)
        log(f"profile {profile.name}: generating the corpus")
        t0 = time.monotonic()
        corpus = build_corpus(profile)
        results["corpus"] = corpus_stats(corpus)
        log(f"pushing {results['corpus']['bytes'] / 1048576:.0f} MiB to {source.host}")
        push_images(source.url, corpus.images, corpus.shared)
        results["corpus"]["prepare_seconds"] = round(time.monotonic() - t0, 2)
        log("raw read limit")
        results["raw"] = extra.raw_limit(corpus, source)
        log("raw copy (the floor of a cold sync)")
        results["raw_copy"] = extra.raw_copy(corpus, source, work)
        log("cold, no-op and incremental syncs (imagegate, then skopeo)")
        tags = {repo: corpus.tags(repo) for repo in corpus.repos}
        sides = phases.make_sides(work, source, targets, tags)
        fresh = fresh_sides_factory(work, source, tags)
        results.update(phases.sync_phases(corpus, source, sides, repeat=repeat, fresh_sides=fresh))
        log(f"peak memory copying a {profile.memory_layer // 1048576} MiB layer")
        results["memory"] = extra.peak_memory(profile.memory_layer, source, targets)
        log(f"scale: no-op check of {profile.scale_tags} tags")
        startup = float(results["memory"]["imagegate_startup_seconds"])
        results["scale"] = extra.scale(work, profile.scale_tags, source, targets, startup)
    finally:
        for s in servers:
            s.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="smoke run of about a minute")
    group.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="where the JSON/Markdown go")
    ap.add_argument("--update-doc", action="store_true", help=f"write the table into {DOC.name}")
    ap.add_argument("--keep", action="store_true", help="keep the registries' storage")
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="cold and no-op syncs per tool, medians reported (default: 3, or 1 with --quick)",
    )
    args = ap.parse_args(argv)
    profile = PROFILES["quick" if args.quick else args.profile]
    from bench.bytecode import compile_tree  # noqa: PLC0415
    from bench.report import render_markdown, update_doc, write_results  # noqa: PLC0415

    compile_tree()  # as installed: no compiling at start-up (see bench/bytecode.py)
    began = time.monotonic()
    repeat = args.repeat or (1 if profile.name != "full" else 3)
    with workdir(args.keep) as work:
        results = run(profile, work, max(1, repeat))
    results["environment"]["repeat"] = repeat
    results["environment"]["total_seconds"] = round(time.monotonic() - began, 1)
    json_path, md_path = write_results(results, args.out)
    table = render_markdown(results)
    print(table)
    log(f"wrote {json_path} and {md_path} in {results['environment']['total_seconds']} s")
    if args.update_doc:
        update_doc(DOC, table)
        log(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
