"""A corpus of broken allowlists, arguments, credentials and registry answers.

Each one gives ONE line on stderr naming what is wrong (file:line:key, or the image), the
documented exit code (3 bad input, 4 auth, 1 failure) and no traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imagegate.domain.digest import Digest
from imagegate.state import PendingChange, TagRecord, open_state
from tests.support.images import ImageFactory
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import cli, write_allowlist

T0 = datetime(2025, 1, 2, tzinfo=UTC)
HEAD = "version: 1\ntarget:\n  registry: 127.0.0.1:1\n  namespace: acme\n"
ONE_IMAGE = "images:\n  - source: a/b\n    tags: ['1']\n"


def one_line(err: str) -> str:
    """stderr must be exactly one non-empty line, without a traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


# (id, file text, line, key, words the message must contain)
CONFIG_CASES: list[tuple[str, str, int | None, str, tuple[str, ...]]] = [
    ("bad-yaml", "version: 1\ntarget: [unclosed\n", 3, "", ("invalid YAML",)),
    ("tab-indent", "version: 1\ntarget:\n\tregistry: x\n", 3, "", ("invalid YAML", "\\t")),
    ("empty", "", None, "", ("empty", "version: 1")),
    ("not-a-mapping", "- a\n- b\n", 1, "", ("mapping",)),
    ("version", HEAD.replace("version: 1", "version: 2") + ONE_IMAGE, 1, "version", ("2",)),
    ("no-images", HEAD, 1, "", ("missing required key 'images'",)),
    (
        "unknown-key",
        HEAD.replace("namespace", "namespce") + ONE_IMAGE,
        4,
        "target.namespce",
        ("unknown key", "did you mean 'namespace'"),
    ),
    (
        "unknown-image-key",
        HEAD + "images:\n  - source: a/b\n    tagz: ['1']\n",
        7,
        "images[0].tagz",
        ("unknown key",),
    ),
    (
        "duplicate-key",
        HEAD + "images:\n  - source: a/b\n    source: c/d\n    tags: ['1']\n",
        7,
        "",
        ("duplicate key 'source'",),
    ),
    (
        "float-tag",
        HEAD + "images:\n  - source: a/b\n    tags: [7.10]\n",
        7,
        "images[0].tags[0]",
        ("quote it", "'7.10'"),
    ),
    (
        "tags-wrong-type",
        HEAD + "images:\n  - source: a/b\n    tags: 5\n",
        7,
        "images[0].tags",
        ("expected",),
    ),
    (
        "bool-for-string",
        HEAD.replace("namespace: acme", "namespace: yes") + ONE_IMAGE,
        4,
        "target.namespace",
        ("expected a string",),
    ),
    (
        "bad-regex",
        HEAD + "images:\n  - source: a/b\n    tags: {include: ['(unclosed']}\n",
        7,
        "images[0].tags.include",
        ("invalid regular expression",),
    ),
    (
        "bad-semver",
        HEAD + "images:\n  - source: a/b\n    tags: {semver: '>=x'}\n",
        7,
        "images[0].tags.semver",
        ("invalid range", ">=x"),
    ),
    (
        "bad-reference",
        HEAD + "images:\n  - source: 'UPPER/Case!!'\n    tags: ['1']\n",
        6,
        "images[0].source",
        ("invalid reference", "lowercase"),
    ),
    (
        "source-with-tag",
        HEAD + "images:\n  - source: a/b:latest\n    tags: ['1']\n",
        6,
        "images[0].source",
        ("tag",),
    ),
    (
        "bad-digest-pin",
        HEAD + "images:\n  - source: a/b\n    tags: ['1@sha256:abc']\n",
        7,
        "images[0].tags[0]",
        ("invalid digest", "64"),
    ),
    (
        "bad-platform",
        HEAD + "images:\n  - source: a/b\n    tags: ['1']\n    platforms: [linux]\n",
        8,
        "images[0].platforms[0]",
        ("invalid platform", "os/arch"),
    ),
    (
        "bad-duration",
        HEAD + "schedule: {every: 5x}\n" + ONE_IMAGE,
        5,
        "schedule.every",
        ("invalid duration", "5x"),
    ),
    (
        "bad-cron",
        HEAD + "schedule: {cron: '61 * * * *'}\n" + ONE_IMAGE,
        5,
        "schedule.cron",
        ("61",),
    ),
    (
        "bad-policy",
        HEAD + "images:\n  - source: a/b\n    tags: ['1']\n    policy: sometimes\n",
        8,
        "images[0].policy",
        ("sometimes",),
    ),
    (
        "name-collision",
        HEAD
        + "images:\n  - source: a/loki\n    tags: ['1']\n  - source: b/loki\n    tags: ['1']\n",
        8,
        "images[1]",
        ("both map to", "acme/loki", "line 6"),
    ),
    (
        "username-without-password",
        HEAD + "registries:\n  'r.example:5000':\n    username: u\n" + ONE_IMAGE,
        7,
        "registries.r.example:5000",
        ("set both 'username' and 'password'",),
    ),
    (
        "missing-env-var",
        HEAD
        + "registries:\n  'r.example:5000':\n    username: u\n"
        + "    password: ${IMAGEGATE_TEST_UNSET_VAR}\n"
        + ONE_IMAGE,
        8,
        "registries.r.example:5000.password",
        ("IMAGEGATE_TEST_UNSET_VAR", "not set"),
    ),
    (
        "bad-webhook-url",
        HEAD + "notify:\n  webhooks:\n    - url: ftp://hooks.example/x\n" + ONE_IMAGE,
        7,
        "notify.webhooks[0].url",
        ("http",),
    ),
    (
        "bad-listen",
        HEAD + "listen: 'nowhere'\n" + ONE_IMAGE,
        5,
        "listen",
        ("host:port",),
    ),
    # -- never exit 70 (docs/reliability.md "Bad input: never exit 70") --
    (
        "target-port-too-large",
        HEAD.replace("127.0.0.1:1", "127.0.0.1:99999") + ONE_IMAGE,
        3,
        "target.registry",
        ("127.0.0.1:99999", "1-65535"),
    ),
    (
        "source-port-too-large",
        HEAD + "images:\n  - source: 127.0.0.1:70000/a/b\n    tags: ['1']\n",
        6,
        "images[0].source",
        ("port 70000", "1-65535"),
    ),
    (
        "every-overflow",
        HEAD + "schedule: {every: 99999999999999999999d}\n" + ONE_IMAGE,
        5,
        "schedule.every",
        ("longer than 3650d",),
    ),
    (
        "jitter-overflow",
        HEAD + "schedule: {every: 1h, jitter: 99999999999d}\n" + ONE_IMAGE,
        5,
        "schedule.jitter",
        ("longer than 3650d",),
    ),
    ("nested-100000-deep", "[" * 100_000, 1, "", ("invalid YAML", "nested more than 64")),
    ("nul-byte", HEAD + "images:\n  - source: a/\x00b\n", 6, "", ("U+0000", "not allowed")),
    (
        "non-ascii-tag",
        HEAD + "images:\n  - source: a/b\n    tags: ['v\u00e91']\n",
        7,
        "images[0].tags[0]",
        ("tag 'v\u00e91'",),
    ),
    (
        "tag-with-final-newline",
        HEAD + 'images:\n  - source: a/b\n    tags: ["v1\\n"]\n',
        7,
        "images[0].tags[0]",
        ("tag 'v1\\n'",),
    ),
    (
        "digest-with-final-newline",
        HEAD + 'images:\n  - source: a/b\n    tags: ["1@sha256:' + "a" * 64 + '\\n"]\n',
        7,
        "images[0].tags[0]",
        ("invalid digest",),
    ),
    (
        "hub-name-with-final-newline",
        HEAD.replace("127.0.0.1:1", "docker.io")
        + 'images:\n  - source: a/b\n    target: "b\\n"\n    tags: ["1"]\n',
        7,
        "images[0].target",
        ("not a valid Docker Hub repository name",),
    ),
    (
        "missing-ca-file",
        HEAD + "registries:\n  'r.example:5000':\n    ca_file: /nonexistent/ca.pem\n" + ONE_IMAGE,
        7,
        "registries.r.example:5000.ca_file",
        ("/nonexistent/ca.pem", "does not exist"),
    ),
    (
        "huge-integer",
        HEAD
        + "registries:\n  'r.example:5000':\n    rate_limit_floor: "
        + "9" * 5000
        + "\n"
        + ONE_IMAGE,
        7,
        "registries.r.example:5000.rate_limit_floor",
        ("far too large",),
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [pytest.param(t, ln, k, w, id=i) for i, t, ln, k, w in CONFIG_CASES],
)
def test_broken_allowlist(tmp_path, capsys, monkeypatch, text, line, key, words):
    monkeypatch.delenv("IMAGEGATE_TEST_UNSET_VAR", raising=False)
    path = tmp_path / "imagegate.yaml"
    path.write_text(text)
    for command in ("plan", "sync"):
        code, out, err = cli(capsys, command, "-c", str(path))
        assert code == 3, err
        assert out == ""
        msg = one_line(err)
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        assert msg.startswith(f"imagegate: error: {where}{key}"), msg
        for word in words:
            assert word in msg, msg


@pytest.mark.parametrize(
    "case_id",
    [c[0] for c in CONFIG_CASES if c[0] in {"target-port-too-large", "every-overflow",
                                           "nested-100000-deep", "nul-byte", "missing-ca-file"}],
)  # fmt: skip
def test_bad_input_writes_nothing(tmp_path, capsys, case_id):
    """The state file named in the allowlist (or by --state) is not even created."""
    text = next(c[1] for c in CONFIG_CASES if c[0] == case_id)
    path = tmp_path / "imagegate.yaml"
    path.write_text(text)
    state = tmp_path / "state" / "state.db"
    for command in ("plan", "sync", "status", "pending", "history"):
        code, _out, err = cli(capsys, command, "-c", str(path), "--state", str(state))
        assert code == 3, (command, err)
        assert str(path) in one_line(err)
    assert not state.parent.exists()


def test_endless_huge_and_special_allowlist_files(tmp_path, capsys):
    """-c /dev/zero, a FIFO with no writer, a 5 MiB file: refused before reading, one line."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (5 * 1024 * 1024) + b"\n")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    cases = {
        Path("/dev/zero"): "not a regular file (a device)",
        fifo: "not a regular file (a pipe)",
        big: "larger than 4 MiB",
    }
    for path, words in cases.items():
        code, out, err = cli(capsys, "plan", "-c", str(path), "--state", str(tmp_path / "s.db"))
        assert code == 3 and out == ""
        msg = one_line(err)
        assert msg.startswith(f"imagegate: error: {path}: ") and words in msg, msg
    assert not (tmp_path / "s.db").exists()


def test_unreadable_allowlist(tmp_path, capsys):
    cases = {
        tmp_path / "missing.yaml": "file not found",
        tmp_path: "cannot read the file",  # a directory: chmod 000 does not bite as root
    }
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    cases[binary] = "cannot read the file"
    if os.geteuid() != 0:
        locked = tmp_path / "locked.yaml"
        locked.write_text(HEAD + ONE_IMAGE)
        locked.chmod(0)
        cases[locked] = "cannot read the file"
    for path, words in cases.items():
        code, _out, err = cli(capsys, "plan", "-c", str(path))
        assert code == 3
        msg = one_line(err)
        assert msg.startswith(f"imagegate: error: {path}:") and words in msg, msg


ARG_CASES = [
    (["bogus"], "invalid choice: 'bogus'"),
    (["plan", "--bogus"], "unrecognized arguments: --bogus"),
    (["sync", "--output", "xml"], "invalid choice: 'xml'"),
    (["copy"], "the following arguments are required: SRC, DST"),
    (["copy", "not a ref!!", "127.0.0.1:1/a/b"], "invalid reference 'not a ref!!'"),
    (["copy", "127.0.0.1:1/a/b:1", "127.0.0.1:2/c/d", "--ca-file", "nohost"], "HOST=PATH"),
    (["copy", "127.0.0.1:1/a/b@sha256:12", "127.0.0.1:2/c/d"], "sha256:12"),
    (["schema", "--bogus"], "unrecognized arguments"),
    (["copy", "127.0.0.1:99999/a/b:1", "127.0.0.1:2/c/d"], "port 99999"),
    (["copy", "127.0.0.1:1/a/b:1", "127.0.0.1:123456/c/d"], "port 123456"),
    (["copy", "127.0.0.1:1/a/b:v\u00e91", "127.0.0.1:2/c/d"], "tag 'v\u00e91'"),
    (["copy", "127.0.0.1:1/a/b:1", "127.0.0.1:2/c/d", "--concurrency", "9" * 30], "1-256"),
    (["copy", "127.0.0.1:1/a/b:1", "127.0.0.1:2/c/d", "--ca-file", "h=/nonexistent"], "no such"),
    (["history", "--limit", "99999999999999999999"], "argument --limit"),
    (["history", "--limit", "9" * 5000], "argument --limit"),
    (["history", "--run", "9223372036854775808"], "argument --run"),
    (["watch", "--every", "99999999999d"], "longer than 3650d"),
    (["watch", "--grace", "1" * 40 + "s"], "longer than 3650d"),
    (["watch", "--max-failures", "99999999999999999999"], "argument --max-failures"),
]


@pytest.mark.parametrize(("argv", "words"), ARG_CASES, ids=[" ".join(a) for a, _ in ARG_CASES])
def test_bad_arguments(capsys, argv, words):
    code, _out, err = cli(capsys, *argv)
    assert code == 3
    msg = one_line(err)
    assert msg.startswith("imagegate: error: ") and words in msg, msg


def test_an_image_not_in_the_allowlist(tmp_path, capsys):
    path = tmp_path / "imagegate.yaml"
    path.write_text(HEAD + f"state: {tmp_path / 'state.db'}\n" + ONE_IMAGE)
    code, _out, err = cli(capsys, "sync", "-c", str(path), "nothere/image")
    assert code == 3
    msg = one_line(err)
    assert "'nothere/image' is not in" in msg and str(path) in msg


# -- credentials and registry answers ------------------------------------------------------
def allowlist(tmp_path: Path, target: str, source: str, extra: str = "") -> str:
    images = f"- source: {source}\n  tags: ['1']\n"
    path = write_allowlist(tmp_path / "imagegate.yaml", target=target, images=images, extra=extra)
    return str(path)


@pytest.fixture
def upstream(registry: RegistryServer, image_factory: ImageFactory) -> RegistryServer:
    Pusher(registry.url).push_image("a/b", "1", image_factory.image(layers=1))
    return registry


def sync_failure(
    capsys: pytest.CaptureFixture[str], cfg: str, expect: int = 4
) -> tuple[dict[str, str], str]:
    """Run sync; it must fail its one image, one log line, one JSON failure. Exit 4 when (as
    here) every failure is a credentials problem, 1 otherwise."""
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == expect, err
    log_line = json.loads(one_line(err))  # the one "image failed" record (JSON off a TTY)
    failures = json.loads(out)["failures"]
    assert len(failures) == 1
    assert log_line["error"] == failures[0]["error"]
    assert "\n" not in failures[0]["error"]
    return failures[0], log_line["image"]


def test_target_needs_credentials_none_configured(upstream, basic_registry, tmp_path, capsys):
    cfg = allowlist(tmp_path, basic_registry.host, f"{upstream.host}/a/b")
    failure, image = sync_failure(capsys, cfg)
    assert image.endswith("acme/b")
    assert "no credentials are configured" in failure["error"]
    assert f"docker login {basic_registry.host}" in failure["error"]
    # plan says the same, in its table, exit 4
    code, out, err = cli(capsys, "plan", "-c", cfg)
    assert code == 4 and err == ""
    assert "no credentials are configured" in out


def test_source_with_wrong_password(
    upstream, basic_registry, image_factory, tmp_path, capsys, docker_config
):
    Pusher(
        basic_registry.url, username=basic_registry.username, password=basic_registry.password
    ).push_image("a/b", "1", image_factory.image(layers=1))
    docker_config({basic_registry.host: (basic_registry.username, "wrong-password")})
    cfg = allowlist(tmp_path, upstream.host, f"{basic_registry.host}/a/b")
    failure, _ = sync_failure(capsys, cfg)
    assert "authentication failed as user 'mirror-bot'" in failure["error"]
    assert "wrong-password" not in failure["error"]
    # a one-off copy has nothing else to do: the auth problem is its exit code
    code, _out, err = cli(capsys, "copy", f"{basic_registry.host}/a/b:1", f"{upstream.host}/x/y:1")
    assert code == 4
    assert "authentication failed" in one_line(err)


def test_credential_helper_missing(upstream, basic_registry, tmp_path, capsys, docker_config):
    docker_config({}, credsStore="imagegate-test-nonexistent")
    cfg = allowlist(tmp_path, upstream.host, f"{basic_registry.host}/a/b")
    failure, _ = sync_failure(capsys, cfg)
    assert "docker-credential-imagegate-test-nonexistent" in failure["error"]
    assert "not on PATH" in failure["error"]
    code, _out, err = cli(capsys, "copy", f"{basic_registry.host}/a/b:1", f"{upstream.host}/x/y:1")
    assert code == 4
    assert "not on PATH" in one_line(err)


def test_unparseable_docker_config(upstream, basic_registry, tmp_path, capsys, docker_config):
    cfg_dir = docker_config({}).directory
    (cfg_dir / "config.json").write_text("{not json")
    code, _out, err = cli(capsys, "copy", f"{basic_registry.host}/a/b:1", f"{upstream.host}/x/y:1")
    assert code == 4
    msg = one_line(err)
    assert "config.json" in msg


def test_forbidden_target(
    upstream, target_registry, make_proxy: Callable[..., RegistryProxy], tmp_path, capsys
):
    def deny_writes(req: ProxyRequest) -> Fault | None:
        if req.method in ("POST", "PUT", "PATCH"):
            body = b'{"errors":[{"code":"DENIED","message":"requested access is denied"}]}'
            return Fault.status_code(403, body=body, headers={"Content-Type": "application/json"})
        return None

    proxy = make_proxy(target_registry.url, fault=deny_writes)
    cfg = allowlist(tmp_path, proxy.host, f"{upstream.host}/a/b")
    failure, _ = sync_failure(capsys, cfg)
    assert "403" in failure["error"] or "denied" in failure["error"].lower()
    code, _out, err = cli(capsys, "copy", f"{upstream.host}/a/b:1", f"{proxy.host}/x/y:1")
    assert code == 4
    assert "denied" in one_line(err).lower()


def test_missing_repository_and_tag(upstream, target_registry, tmp_path, capsys):
    cfg = allowlist(tmp_path, target_registry.host, f"{upstream.host}/no/such")
    failure, image = sync_failure(capsys, cfg, expect=1)
    assert image.endswith("acme/such")
    assert "not found upstream" in failure["error"]
    code, _out, err = cli(
        capsys, "copy", f"{upstream.host}/no/such:1", f"{target_registry.host}/x/y:1"
    )
    assert code == 1
    assert "no/such" in one_line(err)


# -- the same through a real process --------------------------------------------------------
@pytest.mark.parametrize(
    ("argv_tail", "code", "words"),
    [
        (["bogus"], 3, "invalid choice"),
        (["plan", "-c", "{dir}/missing.yaml"], 3, "file not found"),
        (["plan", "-c", "{dir}/bad.yaml"], 3, "bad.yaml:7: images[0].tags.semver"),
    ],
    ids=["unknown-command", "missing-file", "bad-semver"],
)
def test_subprocess(tmp_path, argv_tail, code, words):
    (tmp_path / "bad.yaml").write_text(
        HEAD + "images:\n  - source: a/b\n    tags: {semver: '>=x'}\n"
    )
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv_tail]
    proc = subprocess.run(
        [sys.executable, "-m", "imagegate", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == code
    assert proc.stdout == ""
    msg = one_line(proc.stderr)
    assert msg.startswith("imagegate: error: ") and words in msg, msg


# -- the state database: damaged rows, read-only, disk full, not a file ---------------------
def _state_with_rows(path: Path) -> None:
    """A real state file with a run, a mirrored tag, events and a pending change."""
    digest = Digest.of(b"x")
    with open_state(path) as store:
        run = store.start_run("sync", "imagegate.yaml")
        store.record_tag(
            TagRecord("127.0.0.1:1/acme/b", "1", "127.0.0.1:1/a/b:1", digest, digest, run.id, T0)
        )
        store.add_pending(PendingChange("127.0.0.1:1/a/b", "1", "127.0.0.1:1/acme/b", None, digest))
        store.save_tag_list("127.0.0.1:1/a/b", ["1"], T0)


def _damage(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TRIGGER events_no_update")  # the audit log is append-only
        conn.execute(sql)
    conn.close()


def _digest_of_files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def _content(db: Path) -> list[str]:
    """What the database holds (a WAL checkpoint may rewrite the file with the same rows)."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# (id, SQL that damages one value, the command that reads it, words the message must hold)
DAMAGED_STATE = [
    ("synced-at", "UPDATE tags SET synced_at = 'yesterday'", "status", ("table tags", "synced_at")),
    ("platforms", "UPDATE tags SET platforms = '[broken'", "status", ("platforms", "JSON list")),
    ("run-id-text", "UPDATE tags SET run_id = 'abc'", "status", ("run_id", "whole number")),
    ("digest", "UPDATE tags SET target_digest = 5", "status", ("target_digest", "not a digest")),
    ("event-at", "UPDATE events SET at = 42 WHERE id = 1", "history", ("table events", "row id=1")),
    ("event-kind", "UPDATE events SET kind = 'x' WHERE id = 1", "history", ("kind", "newer")),
    ("run-started", "UPDATE runs SET started_at = 7", "history", ("table runs", "started_at")),
    ("pending-at", "UPDATE pending SET created_at = 3", "pending", ("table pending", "created_at")),
    ("schema-text", "UPDATE schema_version SET version = 'one'", "status", ("schema_version",)),
    ("schema-real", "UPDATE schema_version SET version = 1.5", "history", ("holds 1.5",)),
    ("schema-empty", "DELETE FROM schema_version", "pending", ("schema_version has no row",)),
]


@pytest.mark.parametrize(
    ("sql", "command", "words"),
    [pytest.param(q, c, w, id=i) for i, q, c, w in DAMAGED_STATE],
)
def test_damaged_state_row_is_exit_5_naming_the_row(tmp_path, capsys, sql, command, words):
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(HEAD + f"state: {tmp_path / 'db' / 'state.db'}\n" + ONE_IMAGE)
    db = tmp_path / "db" / "state.db"
    _state_with_rows(db)
    _damage(db, sql)
    argv = (command, "-c", str(cfg)) + (("--runs",) if "UPDATE runs" in sql else ())
    before = _content(db)
    code, _out, err = cli(capsys, *argv)
    assert code == 5, err
    msg = one_line(err)
    assert msg.startswith(f"imagegate: error: the state database {db} "), msg
    for word in words:
        assert word in msg, msg
    assert "move the file away" in msg  # and what to do about it
    assert _content(db) == before  # a read-only command wrote nothing
    assert not (db.parent / "state.db.lock").exists()
    if command == "status":  # sync reads the same rows: the same error, not exit 70
        code, _out, err = cli(capsys, "sync", "-c", str(cfg))
        assert code == 5
        assert one_line(err) == msg


def _read_only_commands_work(capsys, cfg: Path, state: Path) -> None:
    code, out, err = cli(capsys, "history", "-c", str(cfg), "--state", str(state))
    assert code == 0, err
    assert "run_started" in out and "pending_created" in out
    code, out, err = cli(capsys, "pending", "-c", str(cfg), "--state", str(state))
    assert code == 0, err
    assert "127.0.0.1:1/acme/b:1" in out
    code, out, err = cli(capsys, "status", "-c", str(cfg), "--state", str(state))
    assert code == 1, err  # the registry 127.0.0.1:1 is unreachable: reported per tag
    assert "Last sync: run 1" in out or "sha256:" in out
    code, out, err = cli(capsys, "sync", "-c", str(cfg), "--state", str(state))
    assert code == 5
    msg = one_line(err)
    assert f"the state database {state} is read-only" in msg and "mv " not in msg, msg
    assert "cannot create" not in msg


def _try(*argv: str) -> bool:
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def test_read_only_mount_state(tmp_path, capsys):
    """A read-only bind mount: the only way to make a file unwritable for root that every
    process sees, and the case of a state on a read-only volume. Needs root (CAP_SYS_ADMIN)."""
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    _state_with_rows(src / "state.db")
    if not (_try("mount", "--bind", str(src), str(ro))):
        pytest.skip("cannot bind-mount here (needs root with CAP_SYS_ADMIN)")
    try:
        if not _try("mount", "-o", "remount,bind,ro", str(ro)):
            pytest.skip("cannot remount read-only here")
        before = _digest_of_files(src)
        cfg = tmp_path / "imagegate.yaml"
        cfg.write_text(HEAD + ONE_IMAGE)
        _read_only_commands_work(capsys, cfg, ro / "state.db")
        assert _digest_of_files(src) == before
    finally:
        _try("umount", str(ro))


def test_immutable_state_file(tmp_path, capsys):
    """``chattr +i``: even root cannot open the file for writing (EPERM)."""
    state = tmp_path / "state.db"
    _state_with_rows(state)
    if not _try("chattr", "+i", str(state)):
        pytest.skip("chattr +i is not available here (needs root and ext4/xfs/btrfs)")
    try:
        before = hashlib.sha256(state.read_bytes()).hexdigest()
        cfg = tmp_path / "imagegate.yaml"
        cfg.write_text(HEAD + ONE_IMAGE)
        _read_only_commands_work(capsys, cfg, state)
        assert hashlib.sha256(state.read_bytes()).hexdigest() == before
    finally:
        _try("chattr", "-i", str(state))


def test_disk_full_keeps_the_state(tmp_path, capsys):
    """A 1 MiB tmpfs filled up: SQLITE_FULL says the disk is full and keeps the file."""
    fs = tmp_path / "fs"
    fs.mkdir()
    if not _try("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(fs)):
        pytest.skip("cannot mount a tmpfs here (needs root); test_state covers SQLITE_FULL")
    try:
        state = fs / "state.db"
        _state_with_rows(state)
        with open(fs / "filler", "wb", buffering=0) as f:  # fill the filesystem up
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
        before = hashlib.sha256(state.read_bytes()).hexdigest()
        cfg = tmp_path / "imagegate.yaml"
        cfg.write_text(HEAD + ONE_IMAGE)
        code, _out, err = cli(capsys, "sync", "-c", str(cfg), "--state", str(state))
        assert code == 5
        msg = one_line(err)
        assert f"the disk holding the state database {state} is full" in msg, msg
        assert "mv " not in msg and "unreadable" not in msg
        assert state.exists() and hashlib.sha256(state.read_bytes()).hexdigest() == before
        code, out, _err = cli(capsys, "history", "-c", str(cfg), "--state", str(state))
        assert code == 0 and "pending_created" in out  # the audit history is still there
    finally:
        _try("umount", "-l", str(fs))


@pytest.mark.parametrize("command", ["sync", "status", "history", "pending"])
def test_state_that_is_not_a_file(tmp_path, capsys, command):
    cfg = tmp_path / "imagegate.yaml"
    for special in ("/dev/null", str(tmp_path)):
        cfg.write_text(HEAD + f"state: {special}\n" + ONE_IMAGE)
        code, _out, err = cli(capsys, command, "-c", str(cfg))
        assert code == 5
        msg = one_line(err)
        assert f"the state database {special} is a" in msg and "not a file" in msg, msg
        assert "mv " not in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imagegate.yaml"]


def test_read_only_commands_create_no_state(tmp_path, capsys):
    cfg = tmp_path / "imagegate.yaml"
    state = tmp_path / "new" / "state.db"
    cfg.write_text(HEAD + f"state: {state}\n" + ONE_IMAGE)
    for command in ("history", "pending"):
        code, out, err = cli(capsys, command, "-c", str(cfg))
        assert code == 0, err
        assert out.strip() in ("No events recorded.", "Nothing pending.")
    code, out, _err = cli(capsys, "status", "-c", str(cfg))
    assert code == 1 and "no sync recorded" in out
    assert not state.parent.exists()
