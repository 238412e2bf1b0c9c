"""``imagegate validate``: offline, exit 0 or 3, lock-file problems named by file and line,
unset variables checked with a placeholder."""

import json

from tests.support.world import cli

DIGEST = "sha256:" + "a" * 64


def allowlist(tmp_path, *, lock_body=None):
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        "version: 1\n"
        "target:\n  registry: docker.io\n  namespace: acme\n"
        "  hub:\n    username: ${HUB_USER}\n    token: ${HUB_TOKEN_FOR_VALIDATE}\n"
        "lock: imagegate.lock\n"
        "images:\n"
        "  - source: bitnami/redis\n    tags: ['7.4']\n    policy: review\n"
        "  - source: grafana/loki\n    tags: ['3.0.0']\n"
    )
    if lock_body is not None:
        (tmp_path / "imagegate.lock").write_text("version: 1\ndecisions:\n" + lock_body)
    return str(cfg)


def decision(image, kind, extra=""):
    return (
        f"  - image: docker.io/acme/{image}\n    tag: '1'\n    kind: {kind}\n"
        f"    digest: {DIGEST}\n    by: a\n    at: '2026-01-01T00:00:00Z'\n{extra}"
    )


def test_valid_without_secrets_or_lock_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HUB_TOKEN_FOR_VALIDATE", raising=False)
    monkeypatch.delenv("HUB_USER", raising=False)
    code, out, err = cli(capsys, "validate", "-c", allowlist(tmp_path))
    assert code == 0, err
    assert "valid, 2 images" in out
    assert "HUB_TOKEN_FOR_VALIDATE is not set; checked with a placeholder" in err
    assert "imagegate.lock does not exist yet" in err


def test_lock_file_problems_exit_3_naming_the_line(tmp_path, capsys):
    body = decision("redis", "approve") + decision("loki", "approve") + decision("gone", "reject")
    cfg = allowlist(tmp_path, lock_body=body)
    code, _, err = cli(capsys, "validate", "-c", cfg)
    assert code == 3
    assert "imagegate.lock:9: docker.io/acme/loki:1 is approved but the image has policy" in err
    assert "imagegate.lock:15: docker.io/acme/gone is not in the allowlist" in err
    code, out, _ = cli(capsys, "validate", "-c", cfg, "--output", "json")
    doc = json.loads(out)
    assert code == 3
    assert doc["valid"] is False and len(doc["problems"]) == 2 and doc["decisions"] == 3


def test_a_broken_lock_file_is_one_line(tmp_path, capsys):
    cfg = allowlist(tmp_path, lock_body="  - image: x\n")
    code, _, err = cli(capsys, "validate", "-c", cfg)
    assert code == 3
    assert "imagegate.lock:3: decisions[0]: missing 'tag'" in err
    assert len(err.strip().splitlines()) == 1
