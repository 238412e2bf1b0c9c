"""PyYAML, as imagegate imports it: ``from imagegate.config.yamllib import yaml``.

PyYAML's reader compiles, when it is imported, a negated character class that spans all of
Unicode (``yaml.reader.Reader.NON_PRINTABLE``: what is not printable). Python's ``re`` builds
a 64 K-entry table for it: about 6 ms of CPU on every start of every command that reads the
allowlist, a third of importing PyYAML. The same set written the other way round (the few
ranges that are not printable) compiles in a small fraction of that and matches exactly the
same characters: ``tests/unit/test_yamllib.py`` checks every code point, and that PyYAML
still writes the pattern this way (if it does not, nothing is replaced and nothing breaks).
So while PyYAML is imported here, ``re.compile`` is handed the complement for that one
pattern; every other pattern goes through untouched. Start-up: docs/benchmarks.md.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NON_PRINTABLE", "NON_PRINTABLE_RANGES", "yaml"]

# PyYAML's pattern (yaml/reader.py), character for character.
NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
# Its complement over U+0000..U+10FFFF: the same characters, as a plain class.
NON_PRINTABLE_RANGES = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"

_compile = re.compile


def _compile_quickly(pattern: Any, flags: Any = 0) -> re.Pattern[Any]:
    quick = isinstance(pattern, str) and pattern == NON_PRINTABLE
    return _compile(NON_PRINTABLE_RANGES if quick else pattern, flags)


re.compile = _compile_quickly
try:
    import yaml
finally:
    re.compile = _compile
