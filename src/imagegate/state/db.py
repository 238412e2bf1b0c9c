"""One SQLite connection with the pragmas, migrations, nested transactions and error mapping.

Every ``sqlite3.Error`` leaves this module as a :class:`StateError` that names the file and
says what to do. The connection runs in autocommit mode; writes go through
:meth:`Database.transaction` (``BEGIN IMMEDIATE``, savepoints when nested).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from imagegate.domain.records import Event
from imagegate.errors import StateError
from imagegate.state import cells, rows
from imagegate.state.schema import check_current, migrate

BUSY_TIMEOUT_MS = 5000  # another process writing: wait this long before giving up
MEMORY = ":memory:"
T = TypeVar("T")


# SQLite's primary result codes (sqlite3.h); ``exc.sqlite_errorcode & 0xFF`` gives them.
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


def _code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def disk_full(where: str, detail: str) -> StateError:
    return StateError(
        f"the disk holding the state database {where} is full ({detail}); free some space "
        "and run again. The file is kept as it was: what failed to write was not committed"
    )


def read_only(where: str, detail: str) -> StateError:
    return StateError(
        f"the state database {where} is read-only ({detail}); make it writable (the file, "
        "its directory, a read-only mount or 'chattr +i') or choose another path with "
        "--state. status, history and pending can still read it"
    )


LOW_SPACE_BYTES = 1024 * 1024


def _no_space_left(where: str) -> bool:
    """Whether the filesystem holding ``where`` is (all but) full: SQLite reports some
    ENOSPC failures as a plain I/O error (SQLITE_IOERR_SHMSIZE, ..._WRITE)."""
    if where == MEMORY:
        return False
    try:
        fs = os.statvfs(Path(where).absolute().parent)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < LOW_SPACE_BYTES


def _mapped(exc: sqlite3.Error, where: str) -> StateError:
    text = str(exc)
    code = _code(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return StateError(
            f"the state database {where} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again when the other imagegate run has finished"
        )
    if code == SQLITE_FULL:
        return disk_full(where, text)
    if code == SQLITE_READONLY:
        return read_only(where, text)
    if code == SQLITE_CANTOPEN or (
        isinstance(exc, sqlite3.OperationalError) and "unable to open" in text
    ):
        return StateError(
            f"cannot open the state database {where}: {text}; check its permissions or choose "
            "another path with --state"
        )
    if code == SQLITE_IOERR and _no_space_left(where):  # e.g. the -shm file cannot grow
        return disk_full(where, text)
    if code == SQLITE_IOERR:
        return StateError(
            f"an I/O error on the state database {where} ({text}); check the disk and the "
            "filesystem (full? failing? a network filesystem gone?) and run again"
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

    def __init__(self, target: str, *, readonly: bool = False) -> None:
        """Open ``target`` (a path or :data:`MEMORY`) and migrate it.

        ``readonly`` opens an existing file with ``mode=ro`` and never writes: no migration
        (the schema must be current), no journal-mode change. When even SQLite's shared-memory
        file cannot be created beside it (a read-only mount), the file is opened immutable.
        """
        self.where = target
        self.readonly = readonly
        self._depth = 0
        self.conn = self._connect(target, readonly, immutable=False)
        try:
            with self.errors():
                self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                if readonly:
                    try:
                        check_current(self.conn, target)
                    except sqlite3.OperationalError as exc:
                        if _code(exc) not in (SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_IOERR):
                            raise
                        self.conn.close()  # no -shm file can be made: read-only or full disk
                        self.conn = self._connect(target, readonly, immutable=True)
                        check_current(self.conn, target)
                    return
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

    @staticmethod
    def _connect(target: str, readonly: bool, *, immutable: bool) -> sqlite3.Connection:
        try:
            if not readonly:
                return sqlite3.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            uri = (
                Path(target).absolute().as_uri()
                + "?mode=ro"
                + ("&immutable=1" if immutable else "")
            )
            return sqlite3.connect(
                uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise _mapped(exc, target) from exc

    def decode(self, convert: Callable[[cells.Row], T], row: cells.Row) -> T:
        """``convert(row)``; a damaged value is a StateError naming this database."""
        try:
            return convert(row)
        except cells.BadRowError as exc:
            raise exc.located(self.where) from None

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
