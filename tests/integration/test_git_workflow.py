"""The Git workflow end to end: the allowlist and its lock file in a real Git repository,
changed by a pull-request-like branch, checked without credentials, approved into the lock
file, applied by sync against the Docker Hub double and a real registry; then the state
database is deleted and the next sync changes nothing."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.config.lockfile import parse_lock
from imagegate.domain.decisions import DecisionKind
from tests.support.org_world import ORG, org_world
from tests.support.world import cli


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def docker_config(path: Path, host: str, user: str, secret: str) -> str:
    path.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
    (path / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return str(path)


def entry(host: str, repo: str, tag: str, extra: str = "") -> str:
    return f'  - source: {host}/{repo}\n    tags: ["{tag}"]\n{extra}'


@pytest.fixture
def world(registry_pool, tmp_path, image_factory, monkeypatch):
    with org_world(registry_pool, tmp_path, image_factory, monkeypatch) as w:
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.email", "ci@example.com")
        git(repo, "config", "user.name", "ci")
        w.repo = repo
        w.cfg = str(repo / "imagegate.yaml")
        w.owner = docker_config(tmp_path / "owner", w.reg.host, "olivia", "olivia-pw")
        pat = w.hub.model.add_pat("olivia", "repo:read")  # the owner's read-only token
        w.reader = docker_config(tmp_path / "reader", w.reg.host, "olivia", pat)
        w.nobody = str(tmp_path / "nobody")
        Path(w.nobody).mkdir()
        yield w


def write(w: SimpleNamespace, images: str) -> None:
    Path(w.cfg).write_text(
        "version: 1\n"
        f"target:\n  registry: {w.reg.host}\n  namespace: {ORG}\n"
        f"  hub:\n    url: {w.hub.base_url}\n"
        "  access_management: {enabled: true}\n"
        "defaults:\n  teams: {developers: read}\n"
        f"state: {w.tmp / 'state.db'}\n"
        "lock: imagegate.lock\n"
        "images:\n" + images
    )


def run(capsys, w, docker: str, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("DOCKER_CONFIG", docker)
    return cli(capsys, *args)


def sync(capsys, w, monkeypatch):
    code, out, err = run(capsys, w, w.owner, monkeypatch, "sync", "-c", w.cfg, "--output", "json")
    assert code == 0, err
    return json.loads(out)


def test_a_pull_request_adds_an_image_and_a_deleted_state_changes_nothing(
    world, capsys, monkeypatch
):
    w = world
    monkeypatch.chdir(w.repo)
    write(w, entry(w.reg.host, "bitnami/redis", "7.2", "    visibility: public\n"))
    git(w.repo, "add", "imagegate.yaml")
    git(w.repo, "commit", "-q", "-m", "allowlist")
    first = sync(capsys, w, monkeypatch)
    assert [t["tag"] for t in first["copied_tags"]] == ["7.2"]

    # a developer asks for loki in a branch (the pull request)
    git(w.repo, "checkout", "-q", "-b", "add-loki")
    loki = entry(
        w.reg.host,
        "grafana/loki",
        "3.0.0",
        "    policy: review\n    reason: logs for the platform team\n",
    )
    write(w, entry(w.reg.host, "bitnami/redis", "7.2", "    visibility: public\n") + loki)
    git(w.repo, "commit", "-q", "-am", "add grafana/loki")

    # validate: no credentials, no network at all
    def no_network(*_args, **_kw):
        raise AssertionError("validate must not use the network")

    with monkeypatch.context() as m:
        m.setattr(socket.socket, "connect", no_network)
        m.setenv("DOCKER_CONFIG", w.nobody)
        code, out, err = cli(capsys, "validate", "-c", w.cfg)
    assert code == 0, err
    assert "valid, 2 images" in out

    # plan --output markdown with no credential at all: the org part is skipped, and says so
    code, comment, err = run(
        capsys, w, w.nobody, monkeypatch, "plan", "-c", w.cfg, "--output", "markdown"
    )
    assert code == 0, comment + err
    assert "organization acme was not observed" in comment
    assert "acme/loki could not be read with this credential" in comment

    # ... and with a read-only token: the org is observed too
    code, comment, err = run(
        capsys, w, w.reader, monkeypatch, "plan", "-c", w.cfg, "--output", "markdown"
    )
    assert code == 0, comment + err
    assert "### New images (1)" in comment
    assert "grafana/loki" in comment and "logs for the platform team" in comment
    assert "Community" in comment  # the classification of the new entry
    held = next(line for line in comment.splitlines() if line.startswith("imagegate approve"))
    assert held.startswith(f"imagegate approve {w.reg.host}/acme/loki:3.0.0@sha256:")
    assert len(comment) < 5000

    # merge; the scheduled sync holds loki for review
    git(w.repo, "checkout", "-q", "main")
    git(w.repo, "merge", "-q", "--ff-only", "add-loki")
    run_ = sync(capsys, w, monkeypatch)
    assert [(p["tag"]) for p in run_["pending"]] == ["3.0.0"]

    # the owner approves from the comment's command line; the lock file is committed
    code, _, err = run(
        capsys, w, w.owner, monkeypatch, *held.split()[1:], "-c", w.cfg, "--by", "olivia"
    )
    assert code == 0, err
    [decision] = parse_lock(w.repo / "imagegate.lock").entries
    assert (decision.kind, decision.by, str(decision.digest)) == (
        DecisionKind.APPROVE,
        "olivia",
        held.split("@")[1],
    )
    git(w.repo, "add", "imagegate.lock")
    git(w.repo, "commit", "-q", "-m", "approve loki 3.0.0")
    assert "+    digest: " in git(w.repo, "show", "--format=", "HEAD")

    applied = sync(capsys, w, monkeypatch)
    assert [(t["tag"], t["digest"]) for t in applied["copied_tags"]] == [
        ("3.0.0", held.split("@")[1])
    ]
    assert sync(capsys, w, monkeypatch)["hub"] == []  # converged

    # a CI runner without a disk: the state database is gone
    for name in ("state.db", "state.db-wal", "state.db-shm", "state.db.lock"):
        (w.tmp / name).unlink(missing_ok=True)
    after = sync(capsys, w, monkeypatch)
    assert after["copied_tags"] == [] and after["updated_tags"] == []
    assert after["pending"] == [] and after["pending_total"] == 0
    assert [h for h in after["hub"] if h["status"] == "done"] == []
    code, out, err = run(
        capsys, w, w.owner, monkeypatch, "plan", "-c", w.cfg, "--detailed-exitcode"
    )
    assert code == 0, out + err
    assert git(w.repo, "status", "--porcelain") == ""  # nothing left to commit
