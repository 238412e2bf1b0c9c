"""Mistakes and rough edges a first real user ran into, each pinned by a test (no sockets)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from imagegate.cli.main import main
from imagegate.config.load import load_config
from imagegate.domain.allowlist import Config
from imagegate.domain.reference import parse_reference
from imagegate.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    ConfigError,
    InvalidReferenceError,
    UsageError,
)

NESTED = """\
version: 1
target: {registry: "registry.internal:5000", namespace: team/mirror}
images:
  - source: bitnami/redis
  - source: other/redis
    target: legacy/redis
  - source: grafana/loki
    target: observability/loki
  - source: redis
    target: library-redis
defaults:
  tags: ["1"]
"""

REPO = Path(__file__).resolve().parents[2]

HUB = """\
version: 1
target: {registry: docker.io, namespace: acme}
images:
  - source: bitnami/redis
  - source: grafana/loki
    target: logs
defaults:
  tags: ["1"]
"""


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "imagegate.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config(path, env={})


def test_target_short_name_designates_the_image(tmp_path: Path) -> None:
    cfg = _load(tmp_path, HUB)
    redis, loki = cfg.images
    assert cfg.find_image("redis") is redis  # target acme/redis, source bitnami/redis
    assert cfg.find_image("logs") is loki  # target acme/logs
    assert cfg.find_image("loki") is None  # the source's last element is not a target name
    assert cfg.find_image("acme/logs") is loki  # full forms still work
    assert cfg.find_image("grafana/loki") is loki
    assert cfg.find_image("nope") is None


def test_short_name_relative_to_a_path_namespace(tmp_path: Path) -> None:
    cfg = _load(tmp_path, NESTED)
    redis, legacy, loki, library = cfg.images
    assert cfg.find_image("legacy/redis") is legacy  # relative to team/mirror
    assert cfg.find_image("loki") is loki  # unique last element of observability/loki
    assert cfg.find_image("observability/loki") is loki
    assert cfg.find_image("library-redis") is library
    # an exact match (the source as written) wins over short names
    assert cfg.find_image("redis") is library
    assert cfg.find_image("bitnami/redis") is redis
    assert cfg.find_image("") is None and cfg.find_image("/") is None


def test_ambiguous_short_name_is_an_error_naming_the_candidates(tmp_path: Path) -> None:
    cfg = _load(tmp_path, NESTED.replace("  - source: redis\n    target: library-redis\n", ""))
    with pytest.raises(UsageError) as exc:
        cfg.find_image("redis")
    msg = str(exc.value)
    assert exc.value.exit_code == EXIT_CONFIG
    assert "ambiguous" in msg and "\n" not in msg
    assert "registry.internal:5000/team/mirror/redis (images[0] (line 4))" in msg
    assert "registry.internal:5000/team/mirror/legacy/redis (images[1] (line 5))" in msg
    assert "name one by its target repository" in msg


def test_output_into_a_closed_pipe_is_not_an_internal_error() -> None:
    """`imagegate schema | head -1`: the reader goes away before imagegate writes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagegate", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the interpreter has even started: every write gets EPIPE
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_FAILURE
    assert err == ""  # no "internal error", no "Exception ignored ... BrokenPipeError"


def _yaml_blocks(doc: Path) -> list[tuple[int, str]]:
    text = doc.read_text()
    return [
        (text[: m.start()].count("\n") + 1, m.group(1))
        for m in re.finditer(r"```yaml\n(.*?)```", text, re.S)
    ]


@pytest.mark.parametrize("doc", ["docs/allowlist.md", "docs/watch.md", "README.md"])
def test_every_yaml_example_in_the_docs_is_valid_yaml(doc: str) -> None:
    """Copy-pasting an example must not give a YAML syntax error."""
    for line, block in _yaml_blocks(REPO / doc):
        try:
            yaml.safe_load(block)
        except yaml.YAMLError as exc:  # pragma: no cover - the failure message
            pytest.fail(f"{doc}:{line}: example is not valid YAML: {exc}")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (
            "version: 1\ntarget: {registry: docker.io, namespace: ${ORG}}\nimages: []\n",
            'quote ${VARIABLE} references: "${NAME}"',
        ),
        ("version: 1\ntarget:\n  registry: x\n   namespace: acme\n", "check the indentation"),
        ("version: 1\ntarget:\n\tregistry: x\n", "indent with spaces, not tabs"),
        ("version: 1\ntarget: {registry: x\nimages: []\n", "is not closed, or lacks a comma"),
    ],
)
def test_yaml_syntax_errors_say_what_to_do(tmp_path: Path, text: str, hint: str) -> None:
    path = tmp_path / "imagegate.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={"ORG": "acme"})
    msg = str(exc.value)
    assert msg.startswith(f"{path}:") and "invalid YAML" in msg and "\n" not in msg
    assert hint in msg


def test_allowlist_warning_names_the_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "imagegate.yaml"
    path.write_text(
        "version: 1\n"
        'target: {registry: "127.0.0.1:5000", namespace: acme}\n'
        "registries:\n"
        '  "127.0.0.1:5000": {username: alice, password: hunter2hunter2}\n'
        "images: [{source: a/b, tags: [x]}]\n"
    )
    code = main(
        ["--log-format", "text", "history", "-c", str(path), "--state", str(tmp_path / "s.db")]
    )
    err = capsys.readouterr().err
    assert code == 0
    warning = next(line for line in err.splitlines() if "in clear" in line)
    assert warning.count(str(path)) == 1, warning
    assert f"{path}:4: registries." in warning
    assert "hunter2" not in err
    # readable: the key it names is not mangled by the log redactor
    assert warning.startswith("imagegate: warning: ")
    assert "password: this value is written in clear in the file" in warning


@pytest.mark.parametrize(
    "text",
    [
        "http://alice:hunter2@registry.internal:5000/team/app:1",
        "https://registry.internal:5000/team/app",
        "alice:hunter2@registry.internal:5000/team/app",
    ],
)
def test_a_url_or_credentials_in_a_reference_is_refused_without_echoing_them(
    text: str,
) -> None:
    with pytest.raises(InvalidReferenceError) as exc:
        parse_reference(text)
    msg = str(exc.value)
    assert "hunter2" not in msg and "alice" not in msg
    assert "without a scheme (http://) or credentials" in msg
    assert "registry.internal:5000/team/app" in msg


def test_an_unknown_option_points_to_the_subcommand_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["history", "--runz"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err == (
        "imagegate: error: imagegate history: unrecognized arguments: --runz "
        "(see 'imagegate history --help')\n"
    )
