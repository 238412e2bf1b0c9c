"""A corpus of broken allowlists, arguments, credentials and registry answers.

Each one gives ONE line on stderr naming what is wrong (file:line:key, or the image), the
documented exit code (3 bad input, 4 auth, 1 failure) and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.images import ImageFactory
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import cli, write_allowlist

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
