"""The SQLite state store against real database files in tmp_path."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.review import ReviewDetails
from imagegate.errors import EXIT_STATE, StateError
from imagegate.state import (
    Event,
    EventKind,
    PendingChange,
    PendingStatus,
    RunResult,
    SqliteStateStore,
    StateStore,
    TagRecord,
    default_state_path,
    open_state,
)
from imagegate.state.lock import lock_path_for
from imagegate.state.schema import SCHEMA_VERSION

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
D1, D2, D3 = (Digest.of(x) for x in (b"one", b"two", b"three"))
REPO = "docker.io/acme/redis"


def tag_record(digest: Digest, run_id: int | None = None, **kw) -> TagRecord:
    base: dict[str, object] = {
        "target_repo": REPO,
        "tag": "7.2",
        "source_ref": "docker.io/bitnami/redis:7.2",
        "source_digest": digest,
        "target_digest": digest,
        "run_id": run_id,
        "synced_at": T0,
        "platforms": ("linux/amd64", "linux/arm64"),
    }
    base.update(kw)
    return TagRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(db_path: Path):
    with open_state(db_path) as s:
        yield s


def test_conforms_to_protocol() -> None:
    s: StateStore = SqliteStateStore.memory()
    with s:
        assert s.runs() == ()


# -- opening, migrations, bad files --------------------------------------------------------


def test_migrates_empty_file_with_private_permissions(db_path: Path) -> None:
    with open_state(db_path):
        pass
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "tags", "tag_history", "events", "tag_lists", "pending"} <= tables
    conn.close()


def test_reopen_keeps_data_and_does_not_migrate_again(db_path: Path) -> None:
    with open_state(db_path) as s:
        run = s.start_run("sync", "/etc/imagegate.yaml", at=T0)
        s.record_tag(tag_record(D1, run.id))
    with open_state(db_path) as s:
        assert s.get_tag(REPO, "7.2") == tag_record(D1, run.id)
        assert s.last_run() == run
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
    conn.close()


OPEN_ONCE = """
import sys
from imagegate.state import open_state
open_state(sys.argv[1]).close()
"""


def test_processes_racing_to_create_the_file_all_succeed(db_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_ONCE, str(db_path)]) for _ in range(4)]
    assert [p.wait(timeout=30) for p in procs] == [0, 0, 0, 0]
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


def test_newer_schema_is_refused_with_upgrade_advice(db_path: Path) -> None:
    with open_state(db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StateError) as err:
        open_state(db_path)
    assert str(db_path) in str(err.value)
    assert "newer imagegate" in str(err.value)
    assert "upgrade imagegate" in str(err.value)
    assert err.value.exit_code == EXIT_STATE == 5


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4080],
    ids=["garbage", "damaged-header"],
)
def test_corrupt_file_names_the_file_and_says_move_it_away(db_path: Path, content: bytes) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(content)
    with pytest.raises(StateError) as err:
        open_state(db_path)
    message = str(err.value)
    assert str(db_path) in message
    assert "move it away" in message
    assert "rebuilds" in message
    assert "\n" not in message


def test_foreign_sqlite_database_is_not_touched(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="not an imagegate state file"):
        open_state(db_path)
    conn = sqlite3.connect(db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert tables == {"notes"}


def test_unwritable_directory_is_a_state_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        path = blocker / "state.db"  # a file where a directory should be
    else:
        tmp_path.chmod(0o500)
        path = tmp_path / "sub" / "state.db"
    with pytest.raises(StateError, match="cannot create the state database"):
        open_state(path)


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_path() == tmp_path / "xdg" / "imagegate" / "state.db"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_path() == tmp_path / "home" / ".local/state/imagegate/state.db"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_path() == tmp_path / "home" / ".local/state/imagegate/state.db"


def test_naive_timestamps_are_refused(store: SqliteStateStore) -> None:
    with pytest.raises(StateError, match="no timezone"):
        store.start_run("sync", "c.yaml", at=datetime(2025, 1, 1))
    assert store.runs() == ()


# -- runs ----------------------------------------------------------------------------------


def test_runs_start_finish_and_their_events(store: SqliteStateStore) -> None:
    first = store.start_run("sync", "a.yaml", actor="alice", at=T0)
    store.finish_run(first.id, RunResult.SUCCESS, {"copied": 2}, at=T0 + timedelta(seconds=5))
    second = store.start_run("watch", "a.yaml", at=T0 + timedelta(minutes=1))
    assert store.last_run().id == second.id  # type: ignore[union-attr]
    done = store.last_run("sync")
    assert done is not None
    assert done.result is RunResult.SUCCESS
    assert done.finished_at == T0 + timedelta(seconds=5)
    assert dict(done.summary) == {"copied": 2}
    assert [r.id for r in store.runs(limit=5)] == [second.id, first.id]
    assert store.last_run("rollback") is None
    kinds = [(e.kind, e.run_id) for e in store.events()]
    assert kinds == [
        (EventKind.RUN_STARTED, first.id),
        (EventKind.RUN_FINISHED, first.id),
        (EventKind.RUN_STARTED, second.id),
    ]
    assert store.events(run_id=first.id)[1].detail["result"] == "success"
    with pytest.raises(StateError, match="no run 99"):
        store.finish_run(99, RunResult.FAILED, {})


# -- audit events --------------------------------------------------------------------------


def test_events_are_appended_in_order_and_filtered(store: SqliteStateStore) -> None:
    run = store.start_run("sync", "c.yaml", at=T0)
    ids = []
    for i in range(12):
        ids.append(
            store.append_event(
                Event(
                    EventKind.COPIED if i % 2 else EventKind.SKIPPED,
                    run_id=run.id,
                    image=REPO if i < 6 else "docker.io/acme/loki",
                    tag=f"t{i % 3}",
                    digest=D1,
                    detail={"i": i},
                    at=T0 + timedelta(seconds=i),
                )
            )
        )
    assert ids == sorted(ids)
    assert len(set(ids)) == 12
    mine = store.events(kind=EventKind.COPIED)
    assert [e.detail["i"] for e in mine] == [1, 3, 5, 7, 9, 11]
    assert [e.detail["i"] for e in store.events(image=REPO, tag="t0")] == [0, 3]
    assert [e.detail["i"] for e in store.events(since=T0 + timedelta(seconds=10))] == [10, 11]
    # the latest N, still in append order
    assert [e.detail["i"] for e in store.events(run_id=run.id, limit=3)] == [9, 10, 11]
    assert [e.id for e in store.events(after_id=ids[9])] == ids[10:]
    assert store.events(image=REPO)[0].digest == D1


def test_events_cannot_be_changed_or_deleted(store: SqliteStateStore, db_path: Path) -> None:
    store.append_event(Event(EventKind.FAILED, image=REPO, reason="boom"))
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET reason = 'rewritten'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
    conn.close()
    assert [e.reason for e in store.events()] == ["boom"]


def test_secrets_are_never_stored(store: SqliteStateStore, db_path: Path) -> None:
    store.append_event(
        Event(
            EventKind.FAILED,
            reason="GET https://bob:hunter2@registry.example/v2/?token=abc123 failed",
            detail={"password": "hunter2", "nested": {"api_key": "k-123"}, "url": "x?sig=s3cr3t"},
        )
    )
    event = store.events()[0]
    assert dict(event.detail) == {
        "password": "***",
        "nested": {"api_key": "***"},
        "url": "x?sig=***",
    }
    raw = db_path.read_bytes() + Path(f"{db_path}-wal").read_bytes()
    for secret in (b"hunter2", b"abc123", b"k-123", b"s3cr3t"):
        assert secret not in raw


# -- transactions --------------------------------------------------------------------------


def test_failed_transaction_leaves_neither_tag_nor_event(store: SqliteStateStore) -> None:
    run = store.start_run("sync", "c.yaml", at=T0)

    def half_done() -> None:
        with store.transaction():
            store.record_tag(tag_record(D1, run.id))
            store.append_event(Event(EventKind.COPIED, run_id=run.id, image=REPO, tag="7.2"))
            raise RuntimeError("copy interrupted")

    with pytest.raises(RuntimeError):
        half_done()
    assert store.get_tag(REPO, "7.2") is None
    assert store.tag_history(REPO, "7.2") == ()
    assert [e.kind for e in store.events()] == [EventKind.RUN_STARTED]


def test_record_tag_with_event_is_all_or_nothing(store: SqliteStateStore) -> None:
    bad_event = Event(EventKind.COPIED, run_id=12345, image=REPO, tag="7.2")  # no such run
    with pytest.raises(StateError, match="refused a write"):
        store.record_tag_with_event(tag_record(D1), bad_event)
    assert store.get_tag(REPO, "7.2") is None
    event_id = store.record_tag_with_event(tag_record(D1), Event(EventKind.COPIED, image=REPO))
    assert store.get_tag(REPO, "7.2") is not None
    assert store.events()[-1].id == event_id


def test_nested_transaction_rolls_back_only_the_inner_part(store: SqliteStateStore) -> None:
    with store.transaction():
        store.append_event(Event(EventKind.SKIPPED, tag="outer"))
        with pytest.raises(ValueError), store.transaction():
            store.append_event(Event(EventKind.COPIED, tag="inner"))
            raise ValueError
        store.append_event(Event(EventKind.SKIPPED, tag="after"))
    assert [e.tag for e in store.events()] == ["outer", "after"]


# -- mirrored tags -------------------------------------------------------------------------


def test_tag_history_keeps_every_digest_and_its_backup_tag(store: SqliteStateStore) -> None:
    run = store.start_run("sync", "c.yaml", at=T0)
    store.record_tag(tag_record(D1, run.id))
    store.record_tag(tag_record(D1, run.id, synced_at=T0 + timedelta(hours=1)))  # unchanged
    store.record_tag(
        tag_record(D2, run.id, synced_at=T0 + timedelta(hours=2), backup_tag="7.2-prev-1")
    )
    current = store.get_tag(REPO, "7.2")
    assert current is not None
    assert current.target_digest == D2
    assert current.backup_tag == "7.2-prev-1"
    assert current.platforms == ("linux/amd64", "linux/arm64")
    history = store.tag_history(REPO, "7.2")
    assert [(h.target_digest, h.backup_tag) for h in history] == [(D2, None), (D1, "7.2-prev-1")]
    assert history[1].recorded_at == T0
    # a rollback puts D1 back: the history records the return, D2 is kept by its own backup
    store.record_tag(tag_record(D1, run.id, synced_at=T0 + timedelta(hours=3), backup_tag="b2"))
    history = store.tag_history(REPO, "7.2")
    assert [(h.target_digest, h.backup_tag) for h in history] == [
        (D1, None),
        (D2, "b2"),
        (D1, "7.2-prev-1"),
    ]


def test_tags_listing_and_forget(store: SqliteStateStore) -> None:
    store.record_tag(tag_record(D1, tag="b"))
    store.record_tag(tag_record(D2, tag="a"))
    store.record_tag(tag_record(D3, target_repo="docker.io/acme/loki", tag="3.0"))
    assert [(t.target_repo, t.tag) for t in store.tags()] == [
        ("docker.io/acme/loki", "3.0"),
        (REPO, "a"),
        (REPO, "b"),
    ]
    assert [t.tag for t in store.tags(REPO)] == ["a", "b"]
    assert store.forget_tag(REPO, "a") is True
    assert store.forget_tag(REPO, "a") is False
    assert store.get_tag(REPO, "a") is None
    assert len(store.tag_history(REPO, "a")) == 1  # the audit keeps it


def test_tag_list_cache(store: SqliteStateStore) -> None:
    src = "docker.io/grafana/loki"
    assert store.tag_list_cache(src) is None
    store.save_tag_list(src, ["3.0.0", "3.1.0"], T0)
    assert store.tag_list_cache(src) == (("3.0.0", "3.1.0"), T0)
    store.save_tag_list(src, ["3.2.0"], T0 + timedelta(hours=6))
    assert store.tag_list_cache(src) == (("3.2.0",), T0 + timedelta(hours=6))


# -- pending changes -----------------------------------------------------------------------


def change(new: Digest, old: Digest | None = D1) -> PendingChange:
    return PendingChange(
        source_repo="docker.io/bitnami/redis",
        tag="7.2",
        target_repo=REPO,
        old_digest=old,
        new_digest=new,
        details=ReviewDetails(created="2025-01-01T00:00:00Z", layers_changed=2),
    )


def test_pending_lifecycle(store: SqliteStateStore) -> None:
    first, created = store.add_pending(change(D2), at=T0)
    assert created
    assert first.status is PendingStatus.PENDING
    assert first.details is not None and first.details.layers_changed == 2
    again, created = store.add_pending(change(D2), at=T0 + timedelta(hours=1))
    assert (again.id, created) == (first.id, False)
    second, created = store.add_pending(change(D3, old=D1), at=T0 + timedelta(hours=2))
    assert created
    assert second.id != first.id
    assert [p.id for p in store.pending(target_repo=REPO, tag="7.2")] == [first.id, second.id]
    assert store.approved_digest(REPO, "7.2") is None

    assert second.id is not None and first.id is not None
    approved = store.decide(second.id, PendingStatus.APPROVED, by="alice", reason="CVE fix", at=T0)
    assert (approved.status, approved.decided_by, approved.reason) == (
        PendingStatus.APPROVED,
        "alice",
        "CVE fix",
    )
    assert store.approved_digest(REPO, "7.2") == D3
    assert [p.id for p in store.pending()] == [first.id]

    rejected = store.decide(first.id, PendingStatus.REJECTED, by="bob", reason="unvetted")
    assert rejected.status is PendingStatus.REJECTED
    assert store.is_rejected(REPO, "7.2", D2)
    assert not store.is_rejected(REPO, "7.2", D3)
    # a rejection sticks: the same digest seen again is not pending again
    assert store.add_pending(change(D2))[0].status is PendingStatus.REJECTED
    assert store.pending() == ()

    run = store.start_run("sync", "c.yaml")
    applied = store.mark_applied(second.id, run.id)
    assert (applied.status, applied.applied_run_id) == (PendingStatus.APPLIED, run.id)
    assert store.approved_digest(REPO, "7.2") is None

    kinds = [(e.kind, e.actor, e.reason) for e in store.events(image=REPO)]
    assert kinds == [
        (EventKind.PENDING_CREATED, "", ""),
        (EventKind.PENDING_CREATED, "", ""),
        (EventKind.APPROVED, "alice", "CVE fix"),
        (EventKind.REJECTED, "bob", "unvetted"),
    ]
    assert store.events(kind=EventKind.APPROVED)[0].digest == D3


def test_a_later_approval_supersedes_an_unapplied_one(store: SqliteStateStore) -> None:
    a, _ = store.add_pending(change(D2))
    b, _ = store.add_pending(change(D3))
    assert a.id is not None and b.id is not None
    store.decide(a.id, PendingStatus.APPROVED, by="alice", at=T0)
    store.decide(b.id, PendingStatus.APPROVED, by="alice", at=T0 + timedelta(minutes=1))
    assert store.approved_digest(REPO, "7.2") == D3
    assert store.get_pending(a.id).status is PendingStatus.SUPERSEDED


def test_pending_decisions_are_checked(store: SqliteStateStore) -> None:
    p, _ = store.add_pending(change(D2))
    assert p.id is not None
    with pytest.raises(StateError, match="approved or rejected"):
        store.decide(p.id, PendingStatus.APPLIED, by="alice")
    with pytest.raises(StateError, match="is pending, not approved"):
        store.mark_applied(p.id, None)
    store.decide(p.id, PendingStatus.REJECTED, by="alice")
    with pytest.raises(StateError, match="already rejected"):
        store.decide(p.id, PendingStatus.APPROVED, by="bob")
    with pytest.raises(StateError, match="no pending change 999"):
        store.decide(999, PendingStatus.APPROVED, by="bob")


# -- the single-writer lock ----------------------------------------------------------------

HOLD_LOCK = """
import sys
from imagegate.state import open_state
with open_state(sys.argv[1]) as store, store.lock():
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_lock_is_exclusive_between_processes(db_path: Path) -> None:
    with open_state(db_path):
        pass
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with open_state(db_path) as store:
            with pytest.raises(StateError) as err, store.lock():
                pass
            message = str(err.value)
            assert f"another imagegate run holds {lock_path_for(db_path)}" in message
            assert f"pid {holder.pid}" in message
            # reads and writes still work while another process holds the run lock
            store.append_event(Event(EventKind.SKIPPED))
            holder.stdin.close()
            assert holder.wait(timeout=60) == 0
            with store.lock():
                assert store.events()[-1].kind is EventKind.SKIPPED


def test_lock_of_a_killed_process_is_released(db_path: Path) -> None:
    with open_state(db_path):
        pass
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        holder.kill()
        holder.wait()
    with open_state(db_path) as store, store.lock():
        pass


def test_lock_conflicts_within_one_process_and_memory_store_needs_none(db_path: Path) -> None:
    with open_state(db_path) as a, open_state(db_path) as b, a.lock():
        with pytest.raises(StateError, match="another imagegate run holds"), b.lock():
            pass
    with SqliteStateStore.memory() as mem, mem.lock(), mem.lock():
        assert mem.path is None


# ---- never exit 70: damaged values, a full disk, read-only files ---------------------------


def _damage(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE tags SET synced_at = 'soon'", "tags, row target_repo='docker.io/acme/redis'"),
        ("UPDATE tags SET platforms = '{\"a\": 1}'", "platforms holds"),
        ("UPDATE tags SET platforms = '[1, 2]'", "not a JSON list of strings"),
        ("UPDATE tags SET source_ref = x'41'", "source_ref holds b'A', not text"),
        ("UPDATE tags SET run_id = 1.5", "run_id holds 1.5, not a whole number"),
        ("UPDATE tags SET source_digest = 'sha256:abc'", "not a digest"),
    ],
)
def test_damaged_tag_row_names_database_table_and_row(tmp_path: Path, sql: str, words: str):
    db = tmp_path / "state.db"
    with open_state(db) as store:
        store.record_tag(tag_record(D1, platforms=("linux/amd64",)))
    _damage(db, sql)
    with open_state(db) as store, pytest.raises(StateError) as exc:
        store.tags()
    msg = str(exc.value)
    assert exc.value.exit_code == EXIT_STATE
    assert msg.startswith(f"the state database {db} has a damaged row: table tags"), msg
    assert words in msg and "\n" not in msg
    assert "keeps the audit history" in msg


def test_damaged_cache_row_is_a_cache_miss(tmp_path: Path):
    db = tmp_path / "state.db"
    with open_state(db) as store:
        store.save_tag_list("docker.io/library/redis", ["7"], T0)
    _damage(db, "UPDATE tag_lists SET tags = '7', fetched_at = 1")
    with open_state(db) as store:
        assert store.tag_list_cache("docker.io/library/redis") is None


@pytest.mark.parametrize(
    ("value", "words"), [("'one'", "holds 'one'"), ("-1", "holds -1"), ("1.5", "holds 1.5")]
)
def test_schema_version_of_the_wrong_type(tmp_path: Path, value: str, words: str):
    db = tmp_path / "state.db"
    open_state(db).close()
    _damage(db, f"UPDATE schema_version SET version = {value}")
    with pytest.raises(StateError, match=f"is damaged: schema_version {words}, not a schema"):
        open_state(db)
    with pytest.raises(StateError, match="is damaged"):
        open_state(db, readonly=True)


def test_disk_full_is_said_and_the_file_kept(tmp_path: Path):
    """A real SQLITE_FULL: max_page_count caps the file at its current size."""
    db = tmp_path / "state.db"
    store = open_state(db)
    store.record_tag(tag_record(D1))
    pages = store._db.conn.execute("PRAGMA page_count").fetchone()[0]
    store._db.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StateError) as exc:
        for i in range(200):  # fill the free pages, then one more write fails
            store.record_tag(tag_record(D2, tag=f"t{i}", source_ref="x" * 2000))
    store.close()
    msg = str(exc.value)
    assert msg.startswith(f"the disk holding the state database {db} is full"), msg
    assert "mv " not in msg and "unreadable" not in msg
    with open_state(db, readonly=True) as store:
        assert store.get_tag(REPO, "7.2") is not None  # kept, readable


def test_read_only_open_writes_nothing(tmp_path: Path):
    missing = tmp_path / "new" / "state.db"
    with open_state(missing, readonly=True) as store:
        assert store.tags() == () and store.runs() == () and store.pending() == ()
        store.save_tag_list("docker.io/library/redis", ["7"], T0)  # a cache: skipped
    assert not missing.parent.exists()
    db = tmp_path / "state.db"
    with open_state(db) as store:
        store.record_tag(tag_record(D1))
    conn = sqlite3.connect(db)
    before = list(conn.iterdump())
    conn.close()
    with open_state(db, readonly=True) as store:
        assert store.get_tag(REPO, "7.2") is not None
        store.save_tag_list("docker.io/library/redis", ["7"], T0)
        assert store.tag_list_cache("docker.io/library/redis") is None
        with pytest.raises(StateError, match="is read-only"):
            store.start_run("sync", "x")
    conn = sqlite3.connect(db)
    assert list(conn.iterdump()) == before
    conn.close()
    assert not lock_path_for(db).exists()


def test_state_path_that_is_not_a_file(tmp_path: Path):
    for path, kind in ((Path("/dev/null"), "a device"), (tmp_path, "a directory")):
        for readonly in (False, True):
            with pytest.raises(StateError) as exc:
                open_state(path, readonly=readonly)
            assert f"{path} is {kind}, not a file" in str(exc.value)
            assert "mv " not in str(exc.value)
