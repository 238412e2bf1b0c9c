"""Allowlist mistakes through the CLI: exit code 3, one line naming file:line and key, no traceback.

The file is validated before any registry is contacted, so no registry is needed here.
"""

import re

import pytest

from imagegate.cli.main import main

BASE = """\
version: 1
target:
  registry: 127.0.0.1:9
  namespace: acme
images:
  - source: bitnami/redis
    tags: ["7.2"]
"""


def _add(text: str) -> str:
    return BASE + text


# name -> (file text, line, key path, words the message must contain)
MISTAKES = {
    "bad-yaml": (_add("  - source: [unclosed\n"), 9, "", ["invalid YAML"]),
    "unknown-key": (
        BASE.replace("namespace", "namespce"),
        4,
        "target.namespce",
        ["unknown key 'namespce'", "did you mean 'namespace'"],
    ),
    "wrong-type": (BASE.replace('["7.2"]', "7.2"), 7, "images[0].tags", ["got the number 7.2"]),
    "invalid-regex": (
        _add("  - source: grafana/loki\n    tags: {include: ['(unclosed']}\n"),
        9,
        "images[1].tags.include",
        ["invalid regular expression", "(unclosed"],
    ),
    "invalid-semver": (
        _add("  - source: grafana/loki\n    tags: {semver: '>=x'}\n"),
        9,
        "images[1].tags.semver",
        ["invalid range '>=x'"],
    ),
    "invalid-reference": (
        _add("  - source: Grafana/Loki\n    tags: ['1']\n"),
        8,
        "images[1].source",
        ["invalid reference", "lowercase"],
    ),
    "name-collision": (
        _add("  - source: other/redis\n    tags: ['1']\n"),
        8,
        "images[1]",
        ["'other/redis' and 'bitnami/redis'", "both map to", "set a different 'target:'"],
    ),
    "unsupported-version": (
        BASE.replace("version: 1", "version: 2"),
        1,
        "version",
        ["unsupported version 2", "reads version 1"],
    ),
}


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clean_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("imagegate: error: ")
    return lines[0].removeprefix("imagegate: error: ")


@pytest.mark.parametrize("kind", list(MISTAKES))
def test_each_kind_of_mistake_is_one_line_naming_file_line_and_key(kind, tmp_path, capsys):
    text, line, key, words = MISTAKES[kind]
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(text)
    code, out, err = run_cli(capsys, "plan", "-c", str(cfg))
    assert code == 3, err
    assert out == ""
    msg = assert_one_clean_line(err)
    where = re.match(r"^(.+?):(\d+): ", msg)
    assert where is not None, msg
    # a YAML syntax error is reported where the parser stopped: at or just after the mistake
    assert where.group(1) == str(cfg)
    assert int(where.group(2)) in ((line, line + 1) if kind == "bad-yaml" else (line,)), msg
    if key:
        assert msg[where.end() :].startswith(f"{key}: "), msg
    for word in words:
        assert word in msg, msg


def test_missing_file_names_it_and_says_what_to_do(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "nope.yaml"
    code, _, err = run_cli(capsys, "plan", "-c", str(missing))
    assert code == 3
    msg = assert_one_clean_line(err)
    assert msg.startswith(f"{missing}: file not found") and "-c FILE" in msg
    # No -c: ./imagegate.yaml (or $IMAGEGATE_CONFIG) is the default.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMAGEGATE_CONFIG", raising=False)
    code, _, err = run_cli(capsys, "status")
    assert code == 3
    assert assert_one_clean_line(err).startswith("imagegate.yaml: file not found")


@pytest.mark.parametrize(
    "argv", [["sync"], ["status"], ["history"], ["rollback", "bitnami/redis:7.2"]]
)
def test_every_command_reading_the_file_refuses_it_the_same_way(argv, tmp_path, capsys):
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(BASE.replace("namespace", "namespce"))
    code, _, err = run_cli(capsys, *argv, "-c", str(cfg))
    assert code == 3
    msg = assert_one_clean_line(err)
    assert msg.startswith(f"{cfg}:4: target.namespce: unknown key")
