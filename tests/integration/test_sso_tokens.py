"""An organization that enforces SSO (the Hub double refuses password sign-in for its
members) is fully managed with tokens only: the owner's personal access token sets IAM,
creates the repositories with their visibility, and grants the teams whose ids the allowlist
gives (a PAT cannot list teams). The audit actor is the Hub account, not the OS user."""

from __future__ import annotations

import json

import pytest

from imagegate.state import EventKind, SqliteStateStore
from tests.support.org_world import ORG, allowlist, assert_org_managed, enforce_sso, org_world
from tests.support.world import cli


@pytest.fixture
def world(registry_pool, tmp_path, image_factory, monkeypatch):
    with org_world(registry_pool, tmp_path, image_factory, monkeypatch) as w:
        enforce_sso(w, monkeypatch)
        w.ids = {name: team.id for name, team in w.hub.model.orgs[ORG].teams.items()}
        monkeypatch.setenv("HUB_PAT", w.pat)
        yield w


def ids_yaml(ids: dict[str, int]) -> str:
    return "".join(f"      {name}: {value}\n" for name, value in sorted(ids.items()))


def test_password_sign_in_is_refused_under_sso(world, capsys):
    cfg = allowlist(world, hub_auth="    username: olivia\n    token: olivia-pw\n")
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 4
    assert "Single Sign-On is enforced" in out + err


def test_a_pat_without_team_ids_says_what_to_do(world, capsys):
    cfg = allowlist(world, hub_auth="    username: olivia\n    token: ${HUB_PAT}\n")
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 4
    assert "target.hub.team_ids" in out + err


def test_an_sso_org_is_managed_with_tokens_only(world, capsys):
    w = world
    cfg = allowlist(
        w,
        hub_auth="    username: olivia\n    token: ${HUB_PAT}\n    team_ids:\n" + ids_yaml(w.ids),
        loki="    teams: {platform: write}\n",
    )
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 0, out + err
    assert "team ids are given in the allowlist" in out
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, out + err
    run = json.loads(out)
    assert {t["tag"] for t in run["copied_tags"]} == {"7.2", "3.0.0"}
    assert_org_managed(w)  # IAM with a PAT (an OAT never can)
    # converged: a second sync writes nothing
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    assert [h for h in json.loads(out)["hub"] if h["status"] == "done"] == []
    with SqliteStateStore.open(w.tmp / "state.db") as store:
        actors = {e.actor for e in store.events(kind=EventKind.HUB_CHANGED)}
    assert actors == {"olivia"}  # the Hub account decided, not the OS user
