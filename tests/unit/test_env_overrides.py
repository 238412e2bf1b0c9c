"""The IMAGEGATE_* variables: read in one place (cli/env.py), the same for every command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from imagegate.cli import env
from imagegate.cli.common import config_path
from imagegate.cli.main import build_parser, main
from imagegate.errors import ConfigError, UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_every_variable_in_the_source_is_listed_and_documented():
    used = set()
    for path in (ROOT / "src" / "imagegate").rglob("*.py"):
        used |= set(re.findall(r"\bIMAGEGATE_[A-Z_]+\b", path.read_text()))
    listed = {name for name, _ in env.VARIABLES}
    assert used <= listed | {"IMAGEGATE_HUB_TOKEN_FILE"}
    commands = (ROOT / "docs" / "commands.md").read_text()
    assert [name for name in sorted(listed) if f"`{name}`" not in commands] == []


@pytest.mark.parametrize("command", ["plan", "sync", "status", "history", "approve", "pending"])
def test_state_and_log_format_apply_to_every_command(command):
    args = build_parser().parse_args([command] + (["x:1"] if command == "approve" else []))
    env.apply(args, {"IMAGEGATE_STATE": "/tmp/s.db", "IMAGEGATE_LOG_FORMAT": "json"})
    assert (args.state, args.log_format) == ("/tmp/s.db", "json")


def test_the_command_line_wins():
    args = build_parser().parse_args(["plan", "--state", "a.db", "--log-format", "text"])
    env.apply(args, {"IMAGEGATE_STATE": "b.db", "IMAGEGATE_LOG_FORMAT": "json"})
    assert (args.state, args.log_format) == ("a.db", "text")
    args = build_parser().parse_args(["plan"])
    env.apply(args, {})
    assert (args.state, args.log_format) == (None, "auto")


def test_invalid_log_format_is_a_usage_error(monkeypatch, capsys):
    args = build_parser().parse_args(["schema"])
    with pytest.raises(UsageError, match="IMAGEGATE_LOG_FORMAT='yaml' is not a log format"):
        env.apply(args, {"IMAGEGATE_LOG_FORMAT": "yaml"})
    monkeypatch.setenv("IMAGEGATE_LOG_FORMAT", "yaml")
    assert main(["schema"]) == 3
    assert "use auto, text, json" in capsys.readouterr().err


def test_config_file_from_the_option_or_the_variable(monkeypatch):
    monkeypatch.setenv("IMAGEGATE_CONFIG", "/etc/imagegate.yaml")
    assert config_path(argparse.Namespace(config=None)) == Path("/etc/imagegate.yaml")
    assert config_path(argparse.Namespace(config="x.yaml")) == Path("x.yaml")
    assert env.config_file(None, {}) is None


def test_hub_token_then_its_file(tmp_path):
    f = tmp_path / "token"
    f.write_text("dckr_pat_file\n")
    assert env.hub_token({"IMAGEGATE_HUB_TOKEN_FILE": str(f)}) == "dckr_pat_file"
    assert env.hub_token({"IMAGEGATE_HUB_TOKEN": "t", "IMAGEGATE_HUB_TOKEN_FILE": str(f)}) == "t"
    with pytest.raises(ConfigError, match="IMAGEGATE_HUB_TOKEN_FILE: secret file"):
        env.hub_token({"IMAGEGATE_HUB_TOKEN_FILE": str(tmp_path / "absent")})
