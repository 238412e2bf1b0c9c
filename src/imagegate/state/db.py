"""One SQLite connection with the pragmas, migrations, nested transactions and error mapping.

Every ``sqlite3.Error`` leaves this module as a :class:`StateError` that names the file and
says what to do. The connection runs in autocommit mode; writes go through
:meth:`Database.transaction` (``BEGIN IMMEDIATE``, savepoints when nested).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from imagegate.domain.records import Event
from imagegate.errors import StateError
from imagegate.state import rows
from imagegate.state.schema import migrate

BUSY_TIMEOUT_MS = 5000  # another process writing: wait this long before giving up
MEMORY = ":memory:"


def _mapped(exc: sqlite3.Error, where: str) -> StateError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return StateError(
            f"the state database {where} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again when the other imagegate run has finished"
        )
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        return StateError(
            f"cannot open the state database {where}: {text}; check its permissions or choose "
            "another path with --state"
        )
    if isinstance(exc, sqlite3.IntegrityError):
        return StateError(f"the state database {where} refused a write: {text}")
    return StateError(
        f"the state database {where} is unreadable ({text}); move it away "
        f"(mv {where} {where}.broken) and run again: the next run rebuilds the state "
        "from the registries"
    )


def _require_wal(mode: str, where: str) -> None:
    if where != MEMORY and mode.lower() != "wal":
        raise StateError(
            f"the state database {where} cannot use write-ahead logging "
            f"(journal mode {mode}); put it on a local filesystem"
        )


class Database:
    """A migrated connection. Not thread-safe: use it from one thread (the event loop's)."""

    def __init__(self, target: str) -> None:
        self.where = target
        self._depth = 0
        try:
            self.conn = sqlite3.connect(
                target, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise _mapped(exc, target) from exc
        try:
            with self.errors():
                self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self.conn.execute("PRAGMA foreign_keys = ON")
                # WAL: readers never block the writer; NORMAL is durable against process
                # crashes (a power loss may drop the last commits, never corrupt the file).
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                _require_wal(str(mode), target)
                self.conn.execute("PRAGMA synchronous = NORMAL")
                migrate(self.conn, target)
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _mapped(exc, self.where) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all. Nests with savepoints."""
        depth = self._depth
        with self.errors():
            self.conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth = depth
            self._undo(depth)
            raise
        self._depth = depth
        try:
            with self.errors():
                self.conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
        except StateError:
            self._undo(depth)
            raise

    def _undo(self, depth: int) -> None:
        with contextlib.suppress(sqlite3.Error):
            if depth == 0:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
            else:
                self.conn.execute(f"ROLLBACK TO sp{depth}")
                self.conn.execute(f"RELEASE sp{depth}")

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self.errors():
            return self.conn.execute(sql, params)

    def one(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        with self.errors():
            return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self.errors():
            return self.conn.execute(sql, params).fetchall()

    def insert_event(self, event: Event) -> int:
        at = event.at or datetime.now(UTC)
        row = self.one(
            "INSERT INTO events (at, kind, run_id, image, tag, digest, old_digest, actor, reason,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            rows.event_row(event, at),
        )
        return int(row[0])
