"""A PAT and an OAT together under SSO: the owner's personal access token sets IAM, creates
the repositories with their visibility and grants the teams; an organization access token
(``target.hub.teams_token``, read from a mounted secret file) only lists the teams, so the
allowlist needs no ``team_ids``."""

from __future__ import annotations

import json

import pytest

from tests.support.fake_hub.model import OatResource
from tests.support.org_world import ORG, allowlist, assert_org_managed, enforce_sso, org_world
from tests.support.world import cli


@pytest.fixture
def world(registry_pool, tmp_path, image_factory, monkeypatch):
    with org_world(registry_pool, tmp_path, image_factory, monkeypatch) as w:
        enforce_sso(w, monkeypatch)
        w.oat = w.hub.model.add_oat(ORG, (OatResource("TYPE_ORG", ORG, ("scope-group-read",)),))
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        (secrets / "hub-pat").write_text(w.pat + "\n")
        (secrets / "hub-oat").write_text(w.oat + "\n")
        yield w


HUB_AUTH = (
    "    username: olivia\n"
    "    token: ${file:secrets/hub-pat}\n"
    "    teams_token: ${file:secrets/hub-oat}\n"
)


def test_pat_and_oat_manage_an_sso_org_without_team_ids(world, capsys):
    w = world
    cfg = allowlist(w, hub_auth=HUB_AUTH, loki="    teams: {platform: write}\n")
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 0, out + err
    assert "two credentials: 'olivia' (personal access token)" in out
    assert f"'{ORG}' (organization access token) is used only to list the org's teams" in out
    assert "the teams named exist" in out
    assert w.pat not in out + err and w.oat not in out + err
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, out + err
    assert w.pat not in out + err and w.oat not in out + err
    assert_org_managed(w)  # IAM through the PAT (an OAT never can)
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    assert [h for h in json.loads(out)["hub"] if h["status"] == "done"] == []


def test_an_oat_without_group_read_is_named_in_doctor(world, capsys):
    w = world
    weak = w.hub.model.add_oat(ORG, (OatResource("TYPE_ORG", ORG, ("scope-member-read",)),))
    (w.tmp / "secrets" / "hub-oat").write_text(weak)
    cfg = allowlist(w, hub_auth=HUB_AUTH)
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 4
    assert "scope-group-read" in out + err
