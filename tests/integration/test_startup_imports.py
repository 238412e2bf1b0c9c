"""Start-up: a command that touches no network never imports the HTTP stack, and neither does
building the whole parser (every command module, including ones added later: each imports
what its command does inside its ``run``). Timing is measured by ``bench/startup.py``; this
checks what is imported, in a fresh interpreter per command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegate.cli.main import COMMAND_MODULES, command_module

SRC = Path(__file__).resolve().parents[2] / "src"
HTTP_STACK = ("aiohttp", "yarl", "multidict", "aiosignal", "frozenlist")

# Runs main(argv), then writes the top-level packages imported, as JSON, to $PROBE_OUT.
PROBE = """
import json, os, sys
from imagegate.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump(sorted({m.split(".")[0] for m in sys.modules}), out)
"""

ALLOWLIST = """\
version: 1
target: {registry: localhost:5000, namespace: acme}
state: state.db
images:
  - source: bitnami/redis
    tags: ["7.2"]
"""


def imported(argv: list[str], cwd: Path, code: str = PROBE) -> set[str]:
    out = cwd / "imported.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC), "PROBE_OUT": str(out)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert out.exists(), proc.stderr
    return set(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("startup")
    (path / "imagegate.yaml").write_text(ALLOWLIST)
    return path


NETWORK_FREE = [
    ["--version"],
    ["--help"],
    ["schema"],
    ["completion", "bash"],
    ["completion", "--images"],
    ["history"],
    ["history", "--runs"],
    ["pending"],
    ["approve", "--all"],
    ["reject", "--all"],
    ["validate"],  # when that command exists
]


@pytest.mark.parametrize("argv", NETWORK_FREE, ids=" ".join)
def test_network_free_commands_do_not_import_the_http_stack(argv, workdir):
    if command_module(argv[0]) is None and not argv[0].startswith("-"):
        pytest.skip(f"no {argv[0]} command here")
    modules = imported(argv, workdir)
    assert "imagegate" in modules
    assert not modules & set(HTTP_STACK)


STATE_COMMANDS = [["history"], ["pending"], ["approve", "--all"], ["validate"]]


@pytest.mark.parametrize("argv", STATE_COMMANDS, ids=" ".join)
def test_an_allowlist_without_verify_does_not_import_cryptography(argv, workdir):
    """Key files and the trusted root are only parsed (with ``cryptography``, about 0.07 s of
    CPU to import) when the allowlist has a ``verify:`` gate; this one has none."""
    if command_module(argv[0]) is None:
        pytest.skip(f"no {argv[0]} command here")
    modules = imported(argv, workdir)
    assert "yaml" in modules  # the allowlist was read
    assert "cryptography" not in modules


def test_building_the_whole_parser_imports_no_http_stack(workdir):
    """Every command module, including one added later, keeps its I/O imports in ``run``:
    so `--help` and `completion` stay cheap, and a new command is lazy by construction."""
    code = PROBE.replace("main(sys.argv[1:])", "build_parser()").replace(
        "import main", "import build_parser"
    )
    modules = imported([], workdir, code)
    assert not modules & {*HTTP_STACK, "yaml", "re2", "sqlite3"}
    assert len(COMMAND_MODULES) >= 13


def test_what_a_sync_runs_on_imports_it(workdir):
    """The checks above are not vacuous: the run layer does import aiohttp."""
    code = PROBE.replace("main(sys.argv[1:])", "import imagegate.run.sync")
    assert {"aiohttp", "yarl", "multidict"} <= imported([], workdir, code)
