"""Start-up: a command that touches no network never imports the HTTP stack, and neither does
building the whole parser (every command module, including ones added later: each imports
what its command does inside its ``run``). The commands that read the allowlist import only
the parts of it the file uses, and a sync, plan or status imports neither the verifiers
(``cryptography``) without a ``verify:`` gate nor the Docker Hub client for another target.
Timing is measured by ``bench/startup.py``; this checks what is imported, in a fresh
interpreter per command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegate.cli.main import COMMAND_MODULES, command_module
from tests.support.pusher import Pusher
from tests.support.world import write_allowlist

SRC = Path(__file__).resolve().parents[2] / "src"
HTTP_STACK = ("aiohttp", "yarl", "multidict", "aiosignal", "frozenlist")

# Runs main(argv), then writes the modules imported, as JSON, to $PROBE_OUT.
PROBE = """
import json, os, sys
from imagegate.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump(sorted(sys.modules), out)
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
    """The top-level packages imported by ``python -c CODE ARGV`` (by ``main(argv)``)."""
    return {m.split(".")[0] for m in imported_modules(argv, cwd, code)}


def imported_modules(argv: list[str], cwd: Path, code: str = PROBE) -> set[str]:
    """Every module imported by ``python -c CODE ARGV``."""
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


# What the allowlist-reading commands leave out for a file without these sections (and tag
# rules): the console, the schedule, the gates' types, platforms, reviewer details, tag
# patterns (RE2) and semver ranges; hashing (OpenSSL) and argparse's shutil (with zlib, bz2,
# lzma), which nothing here needs; difflib, for the hint of an error only.
NOT_FOR_A_PLAIN_ALLOWLIST = (
    "imagegate.config.console",
    "imagegate.domain.console",
    "imagegate.domain.schedule",
    "imagegate.domain.trust",
    "imagegate.domain.manifest",
    "imagegate.domain.review",
    "imagegate.domain.semver",
    "imagegate.plan.tags",
    "re2",
    "hashlib",
    "shutil",
    "difflib",
)


@pytest.mark.parametrize("argv", STATE_COMMANDS, ids=" ".join)
def test_an_allowlist_reading_command_imports_only_the_sections_the_file_has(argv, workdir):
    if command_module(argv[0]) is None:
        pytest.skip(f"no {argv[0]} command here")
    modules = imported_modules(argv, workdir)
    assert "imagegate.config.load" in modules  # the allowlist was read
    assert sorted(modules & set(NOT_FOR_A_PLAIN_ALLOWLIST)) == []


def test_validate_does_not_open_or_import_the_state(workdir):
    """`validate` checks the file offline; with `state:` given, not even SQLite is imported."""
    modules = imported_modules(["validate"], workdir)
    assert "imagegate.config.load" in modules
    assert not modules & {"sqlite3", "imagegate.state", "imagegate.state.sqlite"}


# A sync to a registry that is not a Docker Hub organization, without `verify:` or webhooks,
# needs neither the verifiers nor the Docker Hub modules (client, models, checks, org steps).
NOT_FOR_A_PLAIN_SYNC = (
    "cryptography",
    "imagegate.trust.cosign",
    "imagegate.trust.keys",
    "imagegate.hub.client",
    "imagegate.hub.transport",
    "imagegate.hub.decode",
    "imagegate.hub.models",
    "imagegate.hub.doctor",
    "imagegate.run.org",
    "imagegate.run.orgsteps",
    "imagegate.run.prreview",
    "imagegate.plan.org",
    "imagegate.notify.notifier",  # no `notify:` webhooks either
)


@pytest.fixture
def plain_sync(source_registry, target_registry, image_factory, tmp_path):
    """An allowlist mirroring one pushed image between two real registries, without Hub;
    and the target, to see the sync happen."""
    Pusher(source_registry.url).push_image("up/app", "1.0", image_factory.image())
    write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images=f"""
            - source: {source_registry.host}/up/app
              tags: ["1.0"]
        """,
    )
    return tmp_path, Pusher(target_registry.url)


@pytest.mark.parametrize(
    "argv", [["sync"], ["plan"], ["plan", "--output", "json"], ["status"]], ids=" ".join
)
def test_a_sync_without_gates_or_hub_imports_neither_the_verifiers_nor_the_hub_client(
    argv, plain_sync
):
    path, target = plain_sync
    modules = imported_modules([*argv, "-c", str(path / "imagegate.yaml")], path)
    assert {"aiohttp", "imagegate.run.sync"} <= modules  # it did run
    assert sorted(modules & set(NOT_FOR_A_PLAIN_SYNC)) == []
    assert target.list_tags("acme/app") == (["1.0"] if argv == ["sync"] else [])


def test_the_modules_a_plain_sync_leaves_out_exist_and_import_what_they_are_kept_from(workdir):
    """The checks above are not vacuous: each module named exists, and the gates' and the Hub
    client's modules do import cryptography and the HTTP stack."""
    names = [m for m in (*NOT_FOR_A_PLAIN_SYNC, *NOT_FOR_A_PLAIN_ALLOWLIST) if "." in m]
    code = PROBE.replace(
        "main(sys.argv[1:])", "import importlib; [importlib.import_module(m) for m in sys.argv[1:]]"
    )
    modules = imported_modules(names, workdir, code)
    assert set(names) <= modules
    assert {"cryptography", "aiohttp", "re2"} <= {m.split(".")[0] for m in modules}
