"""PyYAML's non-printable check, compiled the quick way (src/imagegate/config/yamllib.py):
the same characters, PyYAML still writes the pattern as yamllib expects, and a document with
a control character is still refused."""

import ast
import inspect
import re

import pytest

from imagegate.config.yamllib import NON_PRINTABLE, NON_PRINTABLE_RANGES, yaml

EVERY_CODE_POINT = "".join(map(chr, range(0x110000)))


def test_the_complement_matches_exactly_the_same_code_points():
    slow, quick = re.compile(NON_PRINTABLE), re.compile(NON_PRINTABLE_RANGES)
    found = [m.start() for m in quick.finditer(EVERY_CODE_POINT)]
    assert found == [m.start() for m in slow.finditer(EVERY_CODE_POINT)]
    assert len(found) == 0x800 + 63  # surrogates; C0/C1 controls but tab, LF, CR, NEL; FFFE-F


def test_pyyaml_still_writes_the_pattern_yamllib_replaces():
    """If PyYAML changes its pattern, the replacement silently stops applying: this says so."""
    import yaml.reader  # noqa: PLC0415

    tree = ast.parse(inspect.getsource(yaml.reader))
    patterns = [
        node.value.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "NON_PRINTABLE" for t in node.targets)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.args[0], ast.Constant)
    ]
    assert patterns == [NON_PRINTABLE]


@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x9f", "\ufffe"])
def test_a_control_character_is_still_refused(char):
    with pytest.raises(yaml.reader.ReaderError):
        yaml.safe_load(f"key: a{char}b\n")


def test_printable_text_still_loads():
    text = 'key: "tab\there, é, 日本, \U0001f600, \u00a0 end"\n'
    assert yaml.safe_load(text) == {"key": "tab\there, é, 日本, \U0001f600, \xa0 end"}
