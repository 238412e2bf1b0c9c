"""``python -m bench.console_bench``: how fast the console renders a catalogue of 1,000 tags.

An allowlist of 100 images x 10 tags, a state database recording all 1,000 tags and 50
pending changes, the real console app (``imagegate.console``) on a loopback port, signed in
through the proxy header; GET /console/catalogue (and a search) timed over a few rounds.
Results: bench/out/console.json and printed. No registry is contacted (no refresh).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from tests.support.bgserver import BackgroundServer

from imagegate.config.load import load_config
from imagegate.console.app import ConsoleOptions, make_console
from imagegate.console.serve import mount
from imagegate.domain.digest import Digest
from imagegate.state import PendingChange, RunResult, TagRecord, open_state

OUT = Path(__file__).resolve().parent / "out"


def _world(tmp: Path, images: int, tags: int) -> Path:
    names = ", ".join(f"'1.{t}'" for t in range(tags))
    items = "".join(
        f"  - source: docker.io/up/img{i}\n    tags: [{names}]\n"
        + ("    policy: review\n" if i % 2 else "")
        for i in range(images)
    )
    cfg = tmp / "imagegate.yaml"
    cfg.write_text(
        "version: 1\ntarget: {registry: 'registry.example:5000', namespace: acme}\n"
        f"state: {tmp / 'state.db'}\n"
        "console:\n  viewers: ['*']\n  proxy: {header: X-Forwarded-User, trusted: [127.0.0.1]}\n"
        f"images:\n{items}"
    )
    config = load_config(cfg)
    now = datetime.now(UTC)
    with open_state(config.state) as store, store.transaction():
        run = store.start_run("sync", str(cfg))
        for n, entry in enumerate(config.images):
            for t in range(tags):
                d = Digest.of(f"{n}-{t}".encode())
                store.record_tag(
                    TagRecord(entry.target.name, f"1.{t}", entry.source.name, d, d, run.id, now)
                )
            if n % 2:
                new = Digest.of(f"{n}-new".encode())
                store.add_pending(
                    PendingChange(entry.source.name, "1.0", entry.target.name, None, new)
                )
        store.finish_run(run.id, RunResult.SUCCESS, {"copied": images * tags})
    return cfg


def _get(url: str) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"X-Forwarded-User": "bench"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as resp:
        size = len(resp.read())
    return time.perf_counter() - began, size


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--tags", type=int, default=10)
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="imagegate-console-bench-") as tmp:
        cfg = _world(Path(tmp), args.images, args.tags)
        console = make_console(ConsoleOptions(cfg), load_config(cfg))
        app = web.Application()
        mount(app, console, refresh=False)
        server = BackgroundServer(app).start()
        try:
            results = {}
            for name, path in (
                ("catalogue", "/console/catalogue"),
                ("search", "/console/catalogue?q=img42"),
                ("review", "/console/review"),
                ("activity", "/console/activity"),
            ):
                _get(server.url + path)  # warm: templates compiled
                times, size = [], 0
                for _ in range(args.rounds):
                    seconds, size = _get(server.url + path)
                    times.append(seconds * 1000)
                results[name] = {
                    "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1),
                    "bytes": size,
                }
        finally:
            server.stop()
    doc = {"tags": args.images * args.tags, "rounds": args.rounds, "pages": results}
    OUT.mkdir(exist_ok=True)
    (OUT / "console.json").write_text(json.dumps(doc, indent=2) + "\n")
    for name, r in results.items():
        ms = f"median {r['median_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms"
        print(f"{name:10} {ms}  {r['bytes']:>9,} bytes")


if __name__ == "__main__":
    main()
