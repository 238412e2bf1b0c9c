"""The CLI boundary: global options in either position, usage errors, exit codes."""

import argparse
import logging

from imagegate.cli.main import build_parser, command_module, log_level, main


def test_global_options_work_before_and_after_the_command():
    parser = build_parser()
    before = parser.parse_args(["--debug", "--log-format", "json", "schema"])
    after = parser.parse_args(["schema", "--debug", "--log-format", "json"])
    neither = parser.parse_args(["schema"])
    assert (before.debug, before.log_format) == (True, "json")
    assert (after.debug, after.log_format) == (True, "json")
    assert (neither.debug, neither.log_format) == (False, None)  # None: $IMAGEGATE_LOG_FORMAT


def test_unknown_option_is_a_usage_error_naming_the_command(capsys):
    assert main(["schema", "--bogus"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "imagegate schema --help" in err


def test_no_command_prints_help_and_exits_3(capsys):
    assert main([]) == 3
    assert "COMMAND" in capsys.readouterr().err


def test_only_the_named_command_is_loaded():
    parser = build_parser(["--log-format", "text", "schema", "--debug"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"schema"}
    full = build_parser(["bogus"])
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert {"plan", "sync", "approve", "reject", "schema"} <= set(sub.choices)
    assert command_module("reject") == "imagegate.cli.approve"
    assert command_module("nope") is None


def test_quiet_and_verbose_set_the_log_level_and_debug_wins():
    def level(*argv: str) -> int:
        return log_level(build_parser(list(argv)).parse_args(list(argv)))

    assert level("schema") == logging.INFO
    assert level("-q", "schema") == logging.WARNING
    assert level("schema", "-qq") == logging.ERROR
    assert level("-qqqq", "schema") == logging.ERROR
    assert level("schema", "-v") == logging.DEBUG
    assert level("schema", "--verbose", "--quiet") == logging.INFO
    assert level("-q", "schema", "--debug") == logging.DEBUG


def test_version_alone_loads_no_command_module():
    parser = build_parser(["--version"])
    assert not any(isinstance(a, argparse._SubParsersAction) and a.choices for a in parser._actions)
