"""Crash safety: a writer killed with SIGKILL at random moments never loses or repeats an event.

Each round starts a process that records a tag and its event in one transaction, over and
over, and writes the sequence number it committed to a file after each commit. The parent
kills it at a random moment. Afterwards the database must open cleanly, the events must be a
contiguous prefix 0..N-1 (no gap, no duplicate), every acknowledged commit must be there, and
the tag must agree with the last event.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from imagegate.domain.digest import Digest
from imagegate.state import EventKind, open_state

ROUNDS = 6
WRITER = """
import sys
from datetime import UTC, datetime
from imagegate.domain.digest import Digest
from imagegate.state import Event, EventKind, TagRecord, open_state

with open_state(sys.argv[1]) as store, open(sys.argv[2], "w") as acks:
    last = store.events(kind=EventKind.UPDATED, limit=1)
    seq = int(last[0].detail["seq"]) + 1 if last else 0
    store.start_run("sync", "crash.yaml")
    print("ready", file=acks, flush=True)
    while True:
        d = Digest.of(str(seq).encode())
        store.record_tag_with_event(
            TagRecord("r", "t", "src:t", d, d, None, datetime.now(UTC)),
            Event(EventKind.UPDATED, image="r", tag="t", digest=d, detail={"seq": seq}),
        )
        print(seq, file=acks, flush=True)
        seq += 1
"""


def _acked(path: Path) -> list[int]:
    lines = path.read_text().split("\n")[:-1]  # only complete lines
    return [int(x) for x in lines if x.isdigit()]


def _wait_ready(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().startswith("ready\n"):
            return
        assert proc.poll() is None, "the writer exited early"
        time.sleep(0.01)
    raise AssertionError("the writer did not start")


def test_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    rng = random.Random(20250102)
    acked: list[int] = []
    for round_no in range(ROUNDS):
        acks = tmp_path / f"acks-{round_no}"
        with subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(acks)]) as proc:
            _wait_ready(acks, proc)
            time.sleep(rng.uniform(0.0, 0.25))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
        acked += _acked(acks)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with open_state(db) as store:
        seqs = [
            int(str(e.detail["seq"])) for e in store.events(kind=EventKind.UPDATED, limit=10**9)
        ]
        assert seqs == list(range(len(seqs))), "events are not a contiguous prefix"
        assert set(acked) <= set(seqs), "an acknowledged commit was lost"
        assert len(seqs) >= ROUNDS  # each writer committed something before it was killed
        tag = store.get_tag("r", "t")
        assert tag is not None
        assert tag.target_digest == Digest.of(str(seqs[-1]).encode())
        assert len(store.tag_history("r", "t")) == len(seqs)
        runs = store.runs(limit=100)
        assert len(runs) == ROUNDS
        assert all(r.result is None for r in runs)  # killed runs stay unfinished
        assert len(store.events(kind=EventKind.RUN_STARTED)) == ROUNDS
