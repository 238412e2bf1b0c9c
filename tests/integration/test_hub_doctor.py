"""doctor outcomes for owner / editor / member / OAT / PAT, and the classify + doctor CLIs."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from imagegate.cli.main import main
from imagegate.hub.client import HubClient
from imagegate.hub.doctor import check_names, run_doctor
from tests.support.fake_hub import FakeHub, OatResource

ORG = "acme"


@pytest.fixture
def hub():
    with FakeHub() as fake:
        m = fake.model
        for user in ("olivia", "eddie", "molly"):
            m.add_user(user, f"{user}-pw")
        m.add_org(ORG, owners=("olivia",))
        m.add_member(ORG, "eddie", "editor")
        m.add_member(ORG, "molly", "member")
        m.add_team(ORG, "developers")
        m.orgs[ORG].iam.enabled = True
        yield fake


def doctor(hub, identifier, secret, **kw):
    async def go():
        async with HubClient(hub.base_url, identifier, secret) as c:
            checks = await run_doctor(c, org=ORG, **kw)
        return {c.name: c for c in checks}

    return asyncio.run(go())


def verdicts(checks):
    return {n: ("ok" if c.ok else "FAIL" if c.required else "warn") for n, c in checks.items()}


def test_owner_password_passes_everything(hub):
    checks = doctor(hub, "olivia", "olivia-pw", teams=["developers"], repositories=["redis"])
    assert verdicts(checks) == {
        "names": "ok",
        "login": "ok",
        "settings": "ok",
        "repositories": "ok",
        "community-pulls": "ok",
        "teams": "ok",
    }
    assert "with a password" in checks["login"].message
    assert "currently on" in checks["settings"].message


def test_editor_can_create_but_not_manage_iam_nor_pull_community(hub):
    checks = doctor(hub, "eddie", "eddie-pw", teams=["developers", "qa"])
    assert verdicts(checks) == {
        "names": "ok",
        "login": "ok",
        "settings": "FAIL",
        "repositories": "ok",
        "community-pulls": "warn",  # IAM state unreadable for an editor
        "teams": "FAIL",
    }
    assert "only an org owner can" in checks["settings"].message
    assert "(editor)" in checks["repositories"].message
    assert checks["teams"].message.startswith("teams not found in acme: qa;")


def test_member_cannot_create_repositories(hub):
    checks = doctor(hub, "molly", "molly-pw", manage_settings=False)
    assert verdicts(checks)["repositories"] == "FAIL"
    assert "is only a member of acme" in checks["repositories"].message
    assert verdicts(checks)["settings"] == "warn"  # not managed: not required


def test_oat_cannot_manage_settings_and_is_bound_by_iam(hub):
    oat = hub.model.add_oat(ORG, (OatResource("TYPE_ORG", ORG, ("scope-group-read",)),))
    checks = doctor(hub, ORG, oat, teams=["developers"])
    assert verdicts(checks) == {
        "names": "ok",
        "login": "ok",
        "settings": "FAIL",
        "repositories": "warn",
        "community-pulls": "warn",
        "teams": "ok",
    }
    assert "organization access token cannot read or change" in checks["settings"].message
    assert "scope-repository-create" in checks["repositories"].message


def test_pat_owner_and_low_scope_pat(hub):
    pat = hub.model.add_pat("olivia", "repo:admin")
    checks = doctor(hub, "olivia", pat, teams=["developers"])
    v = verdicts(checks)
    assert (v["settings"], v["repositories"], v["community-pulls"]) == ("ok", "ok", "ok")
    assert v["teams"] == "FAIL"
    assert "personal access token cannot list org teams" in checks["teams"].message

    weak = hub.model.add_pat("eddie", "repo:write")
    checks = doctor(hub, "eddie", weak)
    assert verdicts(checks)["repositories"] == "FAIL"
    assert "has the scope repo:write" in checks["repositories"].message


def test_bad_login_stops_early(hub):
    checks = doctor(hub, "olivia", "nope")
    assert list(checks) == ["names", "login"] and not checks["login"].ok


def test_check_names():
    assert check_names("acme", ["redis", "grafana-loki"]).ok
    bad = check_names("Acme!", ["Redis", "ok-name"])
    assert not bad.ok
    assert "org name 'Acme!'" in bad.message and "'Redis'" in bad.message


def test_doctor_cli_exit_codes_and_json(hub, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGEGATE_HUB_TOKEN", "olivia-pw")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    args = ["doctor", "--org", ORG, "--hub-url", hub.base_url, "--username", "olivia"]
    assert main([*args, "--output", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in out} >= {"login", "settings", "repositories"}
    monkeypatch.setenv("IMAGEGATE_HUB_TOKEN", "molly-pw")
    assert main([*args[:-1], "molly"]) == 4
    text = capsys.readouterr().out
    assert "FAIL repositories:" in text and "molly-pw" not in text


def test_doctor_cli_reads_the_docker_config(hub, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("IMAGEGATE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    auth = base64.b64encode(b"olivia:olivia-pw").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}})
    )
    assert main(["doctor", "--org", ORG, "--hub-url", hub.base_url]) == 0
    assert "as 'olivia' with a password" in capsys.readouterr().out
    (tmp_path / "config.json").write_text("{}")
    assert main(["doctor", "--org", ORG, "--hub-url", hub.base_url]) == 4
    assert "no Docker Hub credential" in capsys.readouterr().err


def test_classify_cli(hub, capsys):
    m = hub.model
    for name in ("library/nginx", "bitnami/redis", "grafana/loki", "someone/tool", "acme/app"):
        m.add_repository(name)
    m.set_badge("bitnami", "verified_publisher")
    m.set_badge("grafana/loki", "open_source")
    images = ["nginx", "bitnami/redis:7", "grafana/loki", "someone/tool", "acme/app"]
    rc = main(["classify", *images, "--org", ORG, "--hub-url", hub.base_url, "--output", "json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [(c["image"], c["category"], c["blocked_by_iam"]) for c in out] == [
        ("nginx", "official", False),
        ("bitnami/redis", "verified_publisher", False),
        ("grafana/loki", "sponsored_oss", True),
        ("someone/tool", "community", True),
        ("acme/app", "own_org", False),
    ]
    assert main(["classify", "someone/tool", "--hub-url", hub.base_url]) == 0
    assert "Community" in capsys.readouterr().out


def test_classify_cli_with_official_blocked(hub, capsys):
    hub.model.add_repository("library/nginx")
    assert main(["classify", "nginx", "--block-official", "--hub-url", hub.base_url]) == 0
    out = capsys.readouterr().out
    assert "Docker Official Image" in out and "blocked" in out
