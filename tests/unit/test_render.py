from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from enum import Enum

from imagegate.cli.render import ProgressBar, dumps, table, to_jsonable
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import Platform
from imagegate.domain.reference import parse_reference
from imagegate.log import setup_logging


def test_table_aligns_columns_and_trims() -> None:
    out = table([["a", "1"], ["longer", "22"]], headers=["name", "n"])
    assert out.splitlines() == ["name    n", "a       1", "longer  22"]


def test_table_ragged_rows_and_empty() -> None:
    assert table([]) == ""
    assert table([["x"], ["yy", "z"]]).splitlines() == ["x", "yy  z"]


class Color(Enum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Row:
    digest: Digest
    platforms: tuple[Platform, ...]
    color: Color
    count: int
    extra: dict[str, object]


def test_json_turns_value_types_into_strings() -> None:
    d = Digest.of(b"x")
    row = Row(
        d, (Platform("linux", "arm64", "v8"),), Color.RED, 3, {"ref": parse_reference("redis")}
    )
    data = json.loads(dumps(row))
    assert data == {
        "digest": str(d),
        "platforms": ["linux/arm64/v8"],
        "color": "red",
        "count": 3,
        "extra": {"ref": "docker.io/library/redis:latest"},
    }
    assert to_jsonable(None) is None


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = ProgressBar(out)
    bar.add_total(100)
    bar.advance(50, "blob")
    bar.close()
    assert not bar.enabled
    assert out.getvalue() == ""


def test_progress_bar_draws_on_a_terminal_and_erases_itself() -> None:
    out = FakeTTY()
    bar = ProgressBar(out)
    bar.add_total(2048)
    bar.advance(1024, "sha256:abc")
    assert bar.render().startswith("[" + "#" * 15 + "." * 15 + "]  50% 1.0 KiB / 2.0 KiB")
    assert bar.render().endswith("sha256:abc")
    bar.close()
    assert "\r\x1b[2K[" in out.getvalue()
    assert out.getvalue().endswith("\r\x1b[2K")


def test_progress_bar_never_goes_below_zero_or_above_full() -> None:
    bar = ProgressBar(io.StringIO())
    bar.advance(-5)
    assert bar.done == 0
    bar.add_total(10)
    bar.advance(20)
    assert "100%" in bar.render()


def test_log_lines_never_mix_with_the_progress_bar():
    stream = io.StringIO()
    setup_logging(fmt="text")
    handler = logging.getLogger("imagegate").handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    bar = ProgressBar(stream, enabled=True)
    bar.add_total(100)
    bar.advance(50, "layer")
    logging.getLogger("imagegate.test").info("tag mirrored")
    bar.close()
    text = stream.getvalue()
    # the bar was drawn, then erased before the log line, which starts on a clean line
    assert "[" in text and "% 0 B / 100 B" in text
    assert "\r\x1b[2Kinfo  tag mirrored" in text
    assert bar._filter not in handler.filters
