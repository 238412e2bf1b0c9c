"""``python -m bench.timeline [--profile small] [--repeat N] [--cprofile FILE]``: where a cold
sync's time goes, in-process.

Starts a source registry with the corpus and, per repetition, an empty target; runs
``imagegate sync`` in this (warm) process, so start-up is left out, and records every HTTP
exchange through the transport (start, headers received, method, kind). Reports, per
repetition: the run's wall and CPU time, when the first blob upload started, the number of
blob uploads in flight on average (time-weighted, over the run and over the span from the
first upload to the last), and the requests by kind. ``--cprofile FILE`` profiles the last
repetition and prints the functions with the most time of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import tools
from bench.cold import fresh_target
from bench.corpus import PROFILES, build_corpus, push_images
from bench.registries import start_registry
from bench.run import log, workdir


@dataclass(frozen=True, slots=True)
class Exchange:
    kind: str
    host: str
    began: float
    answered: float  # headers received (for an upload: its whole body was sent)


def kind_of(method: str, path: str) -> str:
    if "/blobs/uploads/" in path:
        return {"POST": "upload-start", "PUT": "upload-put"}.get(method, f"upload-{method}")
    if "/blobs/" in path:
        return f"blob-{method}"
    if "/manifests/" in path:
        return f"manifest-{method}"
    return f"other-{method}"


@contextlib.contextmanager
def recording(out: list[Exchange]) -> Iterator[None]:
    """Record every exchange of imagegate's transport into ``out``."""
    from imagegate.registry.transport import Transport  # noqa: PLC0415 - after --help

    original = Transport._raw

    async def raw(self: Transport, req: Any, url: Any, headers: Any, body: Any) -> Any:
        began = time.monotonic()
        resp = await original(self, req, url, headers, body)
        kind = kind_of(req.method, url.path)
        out.append(Exchange(kind, url.raw_authority or "", began, time.monotonic()))
        return resp

    Transport._raw = raw  # type: ignore[method-assign]
    try:
        yield
    finally:
        Transport._raw = original  # type: ignore[method-assign]


def in_flight(spans: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Time-weighted mean number of ``spans`` open over ``[start, end]``."""
    if end <= start:
        return 0.0
    covered = sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans)
    return covered / (end - start)


def buckets(
    exchanges: Sequence[Exchange], began: float, ended: float, width: float
) -> list[dict[str, float]]:
    """Per slice of ``width`` seconds: the mean number of requests of each kind open."""
    out = []
    t = began
    while t < ended:
        row: dict[str, float] = {"t": round(t - began, 3)}
        for kind in sorted({e.kind for e in exchanges}):
            spans = [(e.began, e.answered) for e in exchanges if e.kind == kind]
            row[kind] = round(in_flight(spans, t, min(t + width, ended)), 2)
        out.append(row)
        t += width
    return out


def saturated(spans: Sequence[tuple[float, float]], bound: int) -> float:
    """Share of the time from the first span's start to the last one's end during which at
    least ``bound`` spans were open (a request waiting for a slot is not in a span)."""
    if not spans:
        return 0.0
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    full = 0.0
    open_, last = 0, edges[0][0]
    for t, step in edges:
        if open_ >= bound:
            full += t - last
        open_ += step
        last = t
    total = edges[-1][0] - edges[0][0]
    return full / total if total > 0 else 0.0


def analyse(exchanges: Sequence[Exchange], began: float, ended: float) -> dict[str, Any]:
    puts = [(e.began, e.answered) for e in exchanges if e.kind == "upload-put"]
    hosts = sorted({e.host for e in exchanges})
    first_put = min((a for a, _ in puts), default=ended)
    last_put = max((b for _, b in puts), default=ended)
    return {
        "first_upload_after": round(first_put - began, 3),
        "last_upload_done_before_end": round(ended - last_put, 3),
        "uploads_in_flight_run": round(in_flight(puts, began, ended), 2),
        "uploads_in_flight_span": round(in_flight(puts, first_put, last_put), 2),
        "requests": dict(sorted(Counter(e.kind for e in exchanges).items())),
        # the share of each registry's busy time with all 8 default slots taken
        "slots_full": {
            h: round(saturated([(e.began, e.answered) for e in exchanges if e.host == h], 8), 3)
            for h in hosts
        },
    }


def one_run(cfg: Path, profiler: cProfile.Profile | None) -> tuple[float, float, dict[str, Any]]:
    from imagegate.cli.main import main as cli_main  # noqa: PLC0415

    exchanges: list[Exchange] = []
    stdout = io.StringIO()
    cpu0, began = time.process_time(), time.monotonic()
    with recording(exchanges), contextlib.redirect_stdout(stdout):
        if profiler is not None:
            profiler.enable()
        code = cli_main(["sync", "-c", str(cfg), "--output", "json", "--quiet"])
        if profiler is not None:
            profiler.disable()
    ended, cpu = time.monotonic(), time.process_time() - cpu0
    if code != 0:
        raise RuntimeError(f"sync exited {code}: {stdout.getvalue()[-2000:]}")
    found = analyse(exchanges, began, ended)
    found["slices"] = buckets(exchanges, began, ended, 0.05)
    return ended - began, cpu, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="small")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cprofile", type=Path, help="profile the last repetition into FILE")
    ap.add_argument("--top", type=int, default=35, help="functions listed from the profile")
    ap.add_argument(
        "--slices", action="store_true", help="print requests open per 50 ms of each run"
    )
    args = ap.parse_args(argv)
    import imagegate.cli.sync  # noqa: F401, PLC0415 - warm: the imports are not the run's

    with workdir(False) as work:
        source = start_registry(work / "source")
        try:
            corpus = build_corpus(PROFILES[args.profile])
            push_images(source.url, corpus.images, corpus.shared)
            tags = {repo: corpus.tags(repo) for repo in corpus.repos}
            rows = []
            for i in range(args.repeat):
                last = i == args.repeat - 1
                profiler = cProfile.Profile() if args.cprofile and last else None
                with fresh_target(work / f"rep{i}") as target:
                    cfg = tools.imagegate_config(
                        work / f"rep{i}" / "imagegate.yaml",
                        source=source.host,
                        target=target.host,
                        tags=tags,
                        state=work / f"rep{i}" / "state.db",
                    )
                    seconds, cpu, found = one_run(cfg, profiler)
                row = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), **found}
                slices = row.pop("slices")
                log(f"repetition {i + 1}: {json.dumps(row)}")
                if args.slices:
                    for sl in slices:
                        print(" ".join(f"{k}={v}" for k, v in sl.items() if v))
                rows.append(row)
                if profiler is not None:
                    profiler.dump_stats(str(args.cprofile))
        finally:
            source.stop()
    for key in ("seconds", "cpu_seconds", "first_upload_after", "uploads_in_flight_span"):
        print(f"{key}: median {statistics.median(r[key] for r in rows)}")
    print(f"requests: {rows[0]['requests']}")
    if args.cprofile:
        pstats.Stats(str(args.cprofile)).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
