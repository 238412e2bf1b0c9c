"""Argument types for numeric options: a number out of range is a usage error (exit 3).

``type=int`` alone takes ``--limit 99999999999999999999``, which then overflows SQLite or a
C integer deep inside a run (exit 70). :func:`bounded_int` refuses it while parsing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

MAX_DIGITS = 19  # int() of a longer string is pointless (above any bound) and can be slow


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` taking a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        digits = text.strip().removeprefix("-").removeprefix("+")
        if not (digits.isascii() and digits.isdigit()):
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        value = int(text) if len(digits) <= MAX_DIGITS else None
        if value is None or not low <= value <= high:
            shown = text if len(text) <= 24 else text[:21] + "..."
            raise argparse.ArgumentTypeError(f"{shown} is out of range; use {low}-{high}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse
