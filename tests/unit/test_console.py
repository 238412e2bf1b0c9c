"""The console's pure parts and its settings: passwords, signed sessions and CSRF tokens, the
``console:`` section of the allowlist, the catalogue built from state records, the timeline."""

from __future__ import annotations

import base64
import io
import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from imagegate.cli.main import main
from imagegate.config.console import CONSOLE_KEYS
from imagegate.config.load import load_config
from imagegate.config.schema import SCHEMA
from imagegate.console.catalogue import State, build_catalogue, filter_catalogue
from imagegate.console.passwords import (
    check_user,
    hash_password,
    read_users,
    verify_password,
)
from imagegate.console.sessions import Session, Signer, load_secret, new_session
from imagegate.console.snapshot import Snapshot
from imagegate.console.timeline import timeline
from imagegate.domain.console import ProxyAuth, Role
from imagegate.domain.digest import Digest
from imagegate.domain.records import PendingChange, PendingStatus, TagHistoryEntry, TagRecord
from imagegate.errors import ConfigError

NOW = datetime(2025, 6, 1, tzinfo=UTC)
D1, D2 = Digest.of(b"one"), Digest.of(b"two")
FAST = {"n": 2**4, "r": 1, "p": 1}


def allowlist(tmp_path: Path, console: str) -> Path:
    path = tmp_path / "imagegate.yaml"
    path.write_text(
        "version: 1\ntarget: {registry: 'localhost:5000', namespace: acme}\n"
        f"state: {tmp_path / 'state.db'}\n{console}"
        "images:\n  - source: docker.io/library/redis\n    tags: ['7.4']\n"
        "  - source: docker.io/library/nginx\n    tags: ['1.27']\n    policy: review\n"
    )
    return path


def test_a_password_verifies_against_its_hash_only():
    encoded = hash_password("correct horse", **FAST)
    assert encoded.startswith("scrypt$16$1$1$") and "correct" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct hors", encoded)
    assert not verify_password("correct horse", encoded.replace("scrypt", "bcrypt"))
    assert not verify_password("x", "scrypt$99999999$8$1$AA$AA")  # refused, not computed
    assert hash_password("same", **FAST) != hash_password("same", **FAST)  # salted


def test_an_unknown_user_never_signs_in():
    users = {"ann": hash_password("pw", **FAST)}
    assert check_user(users, "ann", "pw")
    assert not check_user(users, "bob", "pw") and not check_user(users, "ann", "")


def test_the_users_file_names_its_bad_line(tmp_path):
    path = tmp_path / "users"
    path.write_text(f"# comment\n\nann:{hash_password('pw', **FAST)}\nbob plain-password\n")
    with pytest.raises(ConfigError, match=r"users:4: expected NAME:scrypt"):
        read_users(path)
    path.write_text(f"ann:{hash_password('pw', **FAST)}\n")
    assert set(read_users(path)) == {"ann"}


def test_a_session_cookie_is_refused_when_forged_or_expired():
    signer = Signer(b"k" * 32)
    session = new_session("ann", expires=2_000)
    cookie = signer.dump(session)
    assert signer.load(cookie, now=1_000) == session
    assert signer.load(cookie, now=2_001) is None
    _, mac = cookie.rsplit(".", 1)
    forged = json.dumps({"s": session.sid, "u": "admin", "e": 2_000}).encode()
    other = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    assert signer.load(f"{other}.{mac}", now=1_000) is None
    assert Signer(b"j" * 32).load(cookie, now=1_000) is None
    assert signer.load("garbage", now=0) is None and signer.load(None, now=0) is None


def test_the_csrf_token_is_bound_to_the_session():
    signer = Signer(b"k" * 32)
    a, b = Session("sid-a", "ann", 9), Session("sid-b", "ann", 9)
    assert signer.check_csrf(a, signer.csrf_token(a))
    assert not signer.check_csrf(b, signer.csrf_token(a)) and not signer.check_csrf(a, "")


def test_the_secret_is_created_private_once(tmp_path):
    state = tmp_path / "st" / "state.db"
    first = load_secret(None, state)
    path = state.parent / "console-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(None, state) == first and len(first) >= 32


def test_the_console_section_loads(tmp_path):
    (tmp_path / "users").write_text("")
    config = load_config(
        allowlist(
            tmp_path,
            "console:\n  approvers: [ann]\n  viewers: ['*']\n  users_file: users\n"
            "  proxy: {header: X-Forwarded-User, trusted: [10.0.0.0/24, '::1']}\n"
            "  refresh: 1m\n",
        )
    )
    c = config.console
    assert c is not None and c.users_file == tmp_path / "users"
    assert c.role_of("ann") is Role.APPROVER and c.role_of("anyone") is Role.VIEWER
    assert c.refresh == timedelta(minutes=1)
    assert c.proxy == ProxyAuth(
        "X-Forwarded-User",
        (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("::1")),
    )
    assert c.proxy.trusts("10.0.0.7") and not c.proxy.trusts("10.0.1.7")
    assert not c.proxy.trusts("") and not c.proxy.trusts("nonsense")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("console:\n  approvers: [ann]\n", "no way to sign in"),
        ("console:\n  approvers: ['*']\n  users_file: u\n", "only for viewers"),
        ("console:\n  approvers: [ann]\n  viewers: [ann]\n  users_file: u\n", "also an approver"),
        ("console:\n  proxy: {header: X-User, trusted: []}\n", "list the proxy's addresses"),
        ("console:\n  proxy: {header: X-User, trusted: [somewhere]}\n", "invalid address"),
        ("console:\n  proxy: {header: 'X User', trusted: [10.0.0.1]}\n", "invalid header"),
        ("console:\n  users_file: u\n  refresh: 1s\n", "at least 10s"),
        ("console:\n  users_file: u\n  colour: red\n", "unknown key 'colour'"),
    ],
)
def test_a_bad_console_section_names_the_key(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(allowlist(tmp_path, section))
    assert "imagegate.yaml:" in str(info.value) and "console" in str(info.value)


def test_the_schema_knows_the_console_section(tmp_path):
    assert set(SCHEMA["properties"]["console"]["properties"]) == CONSOLE_KEYS
    path = allowlist(tmp_path, "console:\n  approvers: [ann]\n  users_file: users\n")
    jsonschema.Draft202012Validator(SCHEMA).validate(yaml.safe_load(path.read_text()))


def test_hash_password_reads_stdin_and_prints_a_users_line(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret!\n"))
    assert main(["console", "hash-password", "ann"]) == 0
    out, err = capsys.readouterr()
    name, encoded = out.strip().split(":", 1)
    assert name == "ann" and verify_password("s3cret!", encoded)
    assert "s3cret" not in out + err


def _record(repo: str, tag: str, digest: Digest) -> TagRecord:
    return TagRecord(repo, tag, "src", digest, digest, 1, NOW)


def test_the_catalogue_says_who_approved_the_current_digest(tmp_path):
    (tmp_path / "u").write_text("")
    config = load_config(allowlist(tmp_path, "console:\n  users_file: u\n"))
    redis, nginx = (e.target.name for e in config.images)
    approved = PendingChange(
        "docker.io/library/nginx", "1.27", nginx, None, D1,
        status=PendingStatus.APPLIED, decided_by="ann", decided_at=NOW, reason="ok",
    )  # fmt: skip
    waiting = PendingChange("docker.io/library/nginx", "1.27", nginx, D1, D2)
    images = build_catalogue(
        config,
        [_record(redis, "7.4", D1), _record(nginx, "1.27", D1)],
        [approved, waiting],
        Snapshot(),
    )
    r, n = images
    assert r.target == "localhost:5000/acme/redis" and r.tags[0].state is State.UNKNOWN
    assert r.tags[0].pull == "docker pull localhost:5000/acme/redis:7.4"
    assert r.tags[0].from_line == "FROM localhost:5000/acme/redis:7.4"
    assert r.tags[0].pinned == f"localhost:5000/acme/redis:7.4@{D1}"
    assert n.tags[0].approval is not None and n.tags[0].approval.by == "ann"
    assert n.tags[0].state is State.HELD and n.tags[0].pending == 1
    assert [i.target for i in filter_catalogue(images, "nginx", None)] == [n.target]
    assert filter_catalogue(images, "", State.HELD)[0].tags == n.tags
    assert filter_catalogue(images, "7.4", None)[0].tags == r.tags


def test_the_timeline_spreads_digests_over_time():
    history = [
        TagHistoryEntry(1, "r", "t", D1, D1, 1, NOW - timedelta(days=10)),
        TagHistoryEntry(2, "r", "t", D2, D2, 2, NOW - timedelta(days=5)),
        TagHistoryEntry(3, "r", "t", D1, D1, None, NOW - timedelta(days=1)),
    ]
    first, second, third = timeline(history, NOW)
    assert first.x < second.x < third.x and first.colour == third.colour != second.colour
    assert second.label == D2.short and first.when == "2025-05-22"
    assert timeline([], NOW) == ()
