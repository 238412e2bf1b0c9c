"""PURE: reading one stored row column by column, refusing a value of the wrong type
(:class:`BadRowError` names the table, the row's key and the column)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from imagegate.domain.digest import Digest
from imagegate.errors import ImagegateError, StateError

Row = Sequence[Any]
E = TypeVar("E", bound=StrEnum)


class BadRowError(StateError):
    """A stored value of the wrong type or shape. :meth:`located` names the database."""

    def __init__(self, table: str, key: str, column: str, problem: str) -> None:
        super().__init__(f"table {table}, row {key}: {column} {problem}")
        self.table = table
        self.key = key

    def located(self, where: str) -> StateError:
        return StateError(
            f"the state database {where} has a damaged row: {self.message}; fix or delete that "
            f"row (sqlite3 {where}), or move the file away (mv {where} {where}.broken) and run "
            "again: the next run rebuilds the state from the registries, and the moved file "
            "keeps the audit history"
        )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Cells:
    """One row read column by column; a value of the wrong type raises :class:`BadRowError`."""

    table: str
    columns: tuple[str, ...]
    row: Row
    key_columns: tuple[int, ...] = (0,)

    @property
    def key(self) -> str:
        return " ".join(f"{self.columns[i]}={_shown(self.row[i])}" for i in self.key_columns)

    def bad(self, i: int, problem: str) -> BadRowError:
        return BadRowError(self.table, self.key, self.columns[i], problem)

    def text(self, i: int) -> str:
        value = self.row[i]
        if not isinstance(value, str):
            raise self.bad(i, f"holds {_shown(value)}, not text")
        return value

    def opt_text(self, i: int) -> str | None:
        return None if self.row[i] is None else self.text(i)

    def integer(self, i: int) -> int:
        value = self.row[i]
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.bad(i, f"holds {_shown(value)}, not a whole number")
        return value

    def opt_integer(self, i: int) -> int | None:
        return None if self.row[i] is None else self.integer(i)

    def when(self, i: int) -> datetime:
        value = self.row[i]
        try:
            return from_ts(value)
        except (TypeError, ValueError, OverflowError):
            raise self.bad(i, f"holds {_shown(value)}, not a timestamp") from None

    def opt_when(self, i: int) -> datetime | None:
        return None if self.row[i] is None else self.when(i)

    def digest(self, i: int) -> Digest:
        value = self.row[i]
        if isinstance(value, str):
            try:
                return Digest.parse(value)
            except ImagegateError:
                pass
        raise self.bad(i, f"holds {_shown(value)}, not a digest")

    def opt_digest(self, i: int) -> Digest | None:
        return None if self.row[i] is None else self.digest(i)

    def string_list(self, i: int) -> tuple[str, ...]:
        value = self.row[i]
        try:
            found = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            found = None
        if not isinstance(found, list) or not all(isinstance(v, str) for v in found):
            raise self.bad(i, f"holds {_shown(value)}, not a JSON list of strings")
        return tuple(found)

    def choice(self, i: int, enum: type[E]) -> E:
        value = self.text(i)
        try:
            return enum(value)
        except ValueError:
            raise self.bad(
                i,
                f"holds the unknown value {_shown(value)} (written by a newer imagegate? "
                "then upgrade imagegate)",
            ) from None


def from_ts(text: str) -> datetime:
    """A stored timestamp; ValueError/TypeError if it is not one. Naive ones are UTC."""
    if not isinstance(text, str):
        raise TypeError("a timestamp is text")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
