"""The CLI boundary: global options in either position, usage errors, exit codes."""

from imagegate.cli.main import build_parser, main


def test_global_options_work_before_and_after_the_command():
    parser = build_parser()
    before = parser.parse_args(["--debug", "--log-format", "json", "schema"])
    after = parser.parse_args(["schema", "--debug", "--log-format", "json"])
    neither = parser.parse_args(["schema"])
    assert (before.debug, before.log_format) == (True, "json")
    assert (after.debug, after.log_format) == (True, "json")
    assert (neither.debug, neither.log_format) == (False, "auto")


def test_unknown_option_is_a_usage_error_naming_the_command(capsys):
    assert main(["schema", "--bogus"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "imagegate schema --help" in err


def test_no_command_prints_help_and_exits_3(capsys):
    assert main([]) == 3
    assert "COMMAND" in capsys.readouterr().err
