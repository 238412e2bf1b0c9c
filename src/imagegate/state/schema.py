"""The state database schema as ordered migrations, and the code that applies them.

Migration N (1-based) takes a database from schema N-1 to N. Never edit a released migration:
append a new one. The SQL stays close to what PostgreSQL accepts (``ON CONFLICT``,
``RETURNING``), except for ``INTEGER PRIMARY KEY AUTOINCREMENT`` and the triggers.
"""

from __future__ import annotations

import sqlite3

from imagegate.errors import StateError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs, mirrored tags and their history, the append-only audit log, tag list cache,
    #    pending changes.
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            config_path TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            result TEXT,
            summary TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE tags (
            target_repo TEXT NOT NULL,
            tag TEXT NOT NULL,
            source_ref TEXT NOT NULL,
            source_digest TEXT NOT NULL,
            target_digest TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            synced_at TEXT NOT NULL,
            platforms TEXT NOT NULL DEFAULT '[]',
            backup_tag TEXT,
            PRIMARY KEY (target_repo, tag)
        )""",
        """CREATE TABLE tag_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            target_repo TEXT NOT NULL,
            tag TEXT NOT NULL,
            target_digest TEXT NOT NULL,
            source_digest TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            recorded_at TEXT NOT NULL,
            backup_tag TEXT
        )""",
        "CREATE INDEX tag_history_by_tag ON tag_history (target_repo, tag, id)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            image TEXT,
            tag TEXT,
            digest TEXT,
            old_digest TEXT,
            actor TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_by_image ON events (image, tag, id)",
        "CREATE INDEX events_by_run ON events (run_id, id)",
        """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TABLE tag_lists (
            source_repo TEXT PRIMARY KEY,
            tags TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        )""",
        """CREATE TABLE pending (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source_repo TEXT NOT NULL,
            tag TEXT NOT NULL,
            target_repo TEXT NOT NULL,
            old_digest TEXT,
            new_digest TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            applied_run_id INTEGER REFERENCES runs(id),
            UNIQUE (target_repo, tag, new_digest)
        )""",
        "CREATE INDEX pending_by_status ON pending (status, target_repo, tag)",
    ),
    (  # verification verdicts: one per source digest and policy fingerprint (issue 11)
        """CREATE TABLE verdicts (
            source_digest TEXT NOT NULL,
            policy TEXT NOT NULL,
            passed INTEGER NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            evidence TEXT NOT NULL DEFAULT '[]',
            verified_at TEXT NOT NULL,
            PRIMARY KEY (source_digest, policy)
        )""",
    ),
    (  # referrers re-check: when each mirrored source digest's referrers were last looked
        #  for at the source, per target repository (issue 11)
        """CREATE TABLE referrer_checks (
            target_repo TEXT NOT NULL,
            source_digest TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            PRIMARY KEY (target_repo, source_digest)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection, where: str) -> int:
    """The schema version of an open database; 0 for an empty one."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in names:
        if names - {"sqlite_sequence"}:
            raise StateError(
                f"{where} is an SQLite database but not an imagegate state file; "
                "choose another path with --state"
            )
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    if row is None:
        raise _damaged(where, "the table schema_version has no row")
    version = row[0]
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise _damaged(where, f"schema_version holds {version!r}, not a schema number")
    return version


def _damaged(where: str, problem: str) -> StateError:
    return StateError(
        f"the state database {where} is damaged: {problem}; if you know the version, set it "  # noqa: S608 (advice shown to the user, not a query)
        f'(sqlite3 {where} "UPDATE schema_version SET version = {SCHEMA_VERSION}"), or move '
        f"the file away (mv {where} {where}.broken) and run again: the next run rebuilds the "
        "state from the registries, and the moved file keeps the audit history"
    )


def check_current(conn: sqlite3.Connection, where: str) -> int:
    """For a read-only open: the schema must be this version's (nothing may be migrated)."""
    version = _known_version(conn, where)
    if version != SCHEMA_VERSION:
        raise StateError(
            f"the state database {where} has schema {version}, older than this imagegate's "
            f"{SCHEMA_VERSION}, and is opened read-only; run a command that writes (sync, "
            "plan) once with write access to upgrade it"
        )
    return version


def _known_version(conn: sqlite3.Connection, where: str) -> int:
    version = current_version(conn, where)
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{where} was written by a newer imagegate (schema {version}, this version "
            f"knows up to {SCHEMA_VERSION}); upgrade imagegate or use another --state file"
        )
    return version


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`, one migration per transaction.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Returns the version.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")  # re-read under the write lock: another process may race
        try:
            version = _known_version(conn, where)
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return version
            if version == 0:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (version + 1,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
