"""Output helpers shared by the commands: byte sizes, aligned tables, JSON, a progress bar.

Pure formatting functions return strings; only :func:`print_json` and :class:`ProgressBar`
write, and the bar writes nothing at all unless its stream is a terminal.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from imagegate.domain.units import human_bytes

PROGRESS_WIDTH = 30  # characters of the bar itself
PROGRESS_INTERVAL = 0.1  # seconds between redraws


def table(rows: Sequence[Sequence[object]], headers: Sequence[str] = ()) -> str:
    """Left-aligned columns separated by two spaces; trailing spaces trimmed."""
    cells = [[str(c) for c in row] for row in ([list(headers)] if headers else []) + list(rows)]
    if not cells:
        return ""
    ncols = max(len(r) for r in cells)
    widths = [max((len(r[i]) for r in cells if i < len(r)), default=0) for i in range(ncols)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)


def to_jsonable(obj: object) -> Any:
    """Turn dataclasses, enums, tuples and value types (via ``str``) into plain JSON data."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "__str__") and type(obj).__str__ is not object.__str__:
            return str(obj)  # value types such as Digest and Reference print canonically
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    return str(obj)


def dumps(obj: object) -> str:
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=False)


def print_json(obj: object, stream: TextIO | None = None) -> None:
    print(dumps(obj), file=stream or sys.stdout)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when ``stream`` is not a TTY.

    ``add_total`` grows the amount of work as it is discovered, ``advance`` moves the bar.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self.total = 0
        self.done = 0
        self.label = ""
        self._last = 0.0
        self._drawn = False
        self._filter = _ClearBeforeLog(self)
        if self.enabled:
            for handler in logging.getLogger("imagegate").handlers:
                handler.addFilter(self._filter)

    def add_total(self, n: int) -> None:
        self.total += n
        self._draw()

    def advance(self, n: int, label: str | None = None) -> None:
        self.done = max(0, self.done + n)
        if label is not None:
            self.label = label
        self._draw()

    def render(self) -> str:
        """The bar as text (pure: used by ``_draw`` and by tests)."""
        frac = min(1.0, self.done / self.total) if self.total else 0.0
        filled = int(frac * PROGRESS_WIDTH)
        bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
        amount = f"{human_bytes(self.done)} / {human_bytes(self.total)}"
        return f"[{bar}] {frac * 100:3.0f}% {amount}  {self.label}".rstrip()

    def _draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        self._stream.write("\r\x1b[2K" + self.render())
        self._stream.flush()
        self._drawn = True

    def erase(self) -> None:
        """Clear the bar's line (it is drawn again on the next update)."""
        if self.enabled and self._drawn:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._drawn = False
            self._last = 0.0

    def close(self) -> None:
        """Erase the bar so the next output starts on a clean line."""
        self.erase()
        for handler in logging.getLogger("imagegate").handlers:
            handler.removeFilter(self._filter)


class _ClearBeforeLog(logging.Filter):
    """Erases the progress bar before a log line is written, so lines never mix."""

    def __init__(self, bar: ProgressBar) -> None:
        super().__init__()
        self._bar = bar

    def filter(self, record: logging.LogRecord) -> bool:
        self._bar.erase()
        return True
