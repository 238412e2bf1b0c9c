"""The config changes a reviewer sees: only what differs, env NAMES never values, bounded
against a hostile config, stored backward compatibly and shown by pending, notifications and
the console (escaped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from imagegate.cli.pending import change_json, render_change
from imagegate.config.load import load_config
from imagegate.console.auth import Identity
from imagegate.console.catalogue import build_catalogue
from imagegate.console.seams import Verdict, VerdictResult
from imagegate.console.sessions import new_session
from imagegate.console.snapshot import Snapshot
from imagegate.domain.configdiff import (
    MAX_ITEMS,
    MAX_TEXT,
    ConfigChanges,
    ConfigField,
    FieldChange,
    config_facts,
    diff_configs,
)
from imagegate.domain.console import Role
from imagegate.domain.digest import Digest
from imagegate.domain.records import Event, EventKind, PendingChange, PendingStatus, TagRecord
from imagegate.domain.review import ReviewDetails
from imagegate.domain.units import human_bytes
from imagegate.notify.details import details_json, details_summary

NOW = datetime(2025, 6, 1, tzinfo=UTC)
D1, D2 = Digest.of(b"one"), Digest.of(b"two")
SECRET = "hunter2-s3cret"


def cfg(**config: object) -> dict[str, object]:
    return {"architecture": "amd64", "os": "linux", "config": config}


OLD = cfg(
    User="root",
    Cmd=["redis-server"],
    ExposedPorts={"6379/tcp": {}},
    Env=["PATH=/bin", "DEBUG=1"],
    WorkingDir="/data",
    Labels={"org.opencontainers.image.version": "7.4.0", "other": "x"},
)
NEW = cfg(
    User="nobody",
    Cmd=["redis-server"],
    ExposedPorts={"6379/tcp": {}, "8080/tcp": {}},
    Env=["PATH=/bin", f"API_TOKEN={SECRET}"],
    WorkingDir="/data",
    Labels={"org.opencontainers.image.version": "7.4.1", "other": "y"},
)


def test_only_the_fields_that_differ_are_kept_in_order():
    changes = diff_configs(OLD, NEW)
    assert [c.field for c in changes.changes] == [
        ConfigField.USER,
        ConfigField.EXPOSED_PORTS,
        ConfigField.ENV_NAMES,
        ConfigField.VERSION,
    ]
    user, ports, env, version = changes.changes
    assert (user.before, user.after) == (("root",), ("nobody",))
    assert (ports.before, ports.after) == ((), ("8080/tcp",))
    assert (env.before, env.after) == (("DEBUG",), ("API_TOKEN",))
    assert (version.before, version.after) == (("7.4.0",), ("7.4.1",))
    assert not changes.truncated
    assert [c.text() for c in changes.changes] == [
        "user: root -> nobody",
        "exposed ports: +8080/tcp",
        "env names: +API_TOKEN -DEBUG",
        "version label: 7.4.0 -> 7.4.1",
    ]
    assert diff_configs(OLD, OLD) == ConfigChanges()
    assert not diff_configs(OLD, OLD)


def test_entrypoint_and_cmd_compare_in_order_and_unset_is_shown():
    a = cfg(Entrypoint=["/init"], Cmd=["a", "b"])
    b = cfg(Cmd=["b", "a"])
    entry, cmd = diff_configs(a, b).changes
    assert entry == FieldChange(ConfigField.ENTRYPOINT, ("/init",), ())
    assert entry.text() == "entrypoint: /init -> (unset)"
    assert cmd == FieldChange(ConfigField.CMD, ("a", "b"), ("b", "a"))


def test_env_values_are_never_read():
    text = json.dumps(diff_configs(OLD, NEW).as_json())
    assert SECRET not in text and "API_TOKEN" in text
    assert SECRET not in repr(config_facts(NEW))


def test_a_hostile_config_is_cut_at_the_caps():
    huge = cfg(
        Env=[f"VAR_{i}=x" for i in range(100_000)],
        ExposedPorts={f"{i}/tcp": {} for i in range(100_000)},
        User="u" * 100_000,
        Cmd=["c" * 10_000] * 10_000,
        Labels={"org.opencontainers.image.version": "v" * 100_000},
    )
    facts = config_facts(huge)
    assert facts.truncated
    assert all(len(v) <= MAX_ITEMS for v in facts.values.values())
    assert all(len(x) <= MAX_TEXT for v in facts.values.values() for x in v)
    changes = diff_configs(OLD, huge)
    assert changes.truncated
    assert len(json.dumps(changes.as_json())) < 10 * len(ConfigField) * MAX_ITEMS * MAX_TEXT


def test_odd_types_are_ignored_not_trusted():
    odd = {"config": {"User": 5, "Cmd": "sh", "Env": {"A": 1}, "ExposedPorts": ["80"]}}
    assert all(v == () for v in config_facts(odd).values.values())
    assert config_facts({"config": None}).values == config_facts({}).values


def test_stored_details_round_trip_and_old_rows_still_load():
    details = ReviewDetails(layers=2, config_changes=diff_configs(OLD, NEW))
    back = ReviewDetails.from_json(json.loads(json.dumps(details.as_json())))
    assert back.config_changes == details.config_changes
    old_row = {"platforms": ["linux/amd64"], "layers": 2, "labels": {}}
    assert ReviewDetails.from_json(old_row).config_changes is None
    assert "config_changes" not in ReviewDetails().as_json()
    bad = {"config_changes": {"changes": [{"field": "nope"}, 3, {"field": "user", "after": 7}]}}
    assert ReviewDetails.from_json(bad).config_changes == ConfigChanges(
        (FieldChange(ConfigField.USER, (), ()),)
    )


def _change(details: ReviewDetails) -> PendingChange:
    return PendingChange("docker.io/up/r", "1.0", "localhost:5000/acme/r", D1, D2, details, id=7)


def test_pending_text_and_json_show_the_changes():
    changes = diff_configs(OLD, NEW)
    change = _change(ReviewDetails(config_changes=changes))
    text = render_change(change)
    assert "config     user: root -> nobody" in text
    assert "env names: +API_TOKEN -DEBUG" in text and SECRET not in text
    doc = change_json(change)["details"]
    assert isinstance(doc, dict) and doc["config_changes"] == changes.as_json()
    same = render_change(_change(ReviewDetails(config_changes=ConfigChanges())))
    assert "config     unchanged" in same
    assert "config" not in render_change(_change(ReviewDetails()))


def test_notifications_carry_the_changes_bounded_and_name_only_the_fields():
    changes = diff_configs(OLD, NEW)
    details = ReviewDetails(layers=2, config_changes=changes)
    doc = details_json(details)
    assert doc["config_changes"] == changes.as_json()
    summary = details_summary(details)
    assert "config changed: user, exposed ports, env names, version label" in summary
    assert "nobody" not in summary
    long = ReviewDetails(config_changes=diff_configs(OLD, cfg(User="x" * 150)))
    item = details_json(long)["config_changes"]
    assert isinstance(item, dict) and all(len(x) <= 80 for c in item["changes"] for x in c["after"])


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("imagegate.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _common() -> dict[str, object]:
    who = Identity("ann", Role.APPROVER, new_session("ann", 2**40))
    return {"prefix": "/console", "who": who, "csrf": "t", "config_error": "",
            "human_bytes": human_bytes}  # fmt: skip


def test_the_review_page_shows_the_changes_escaped():
    hostile = cfg(User="<script>alert(1)</script>", Env=["<b>X</b>=1"])
    details = ReviewDetails(layers=1, config_changes=diff_configs(OLD, hostile))
    html = (
        _env()
        .get_template("review.html")
        .render(items=[(_change(details), (), False, None)], decided=[], message="", **_common())
    )
    assert 'data-field="user"' in html and '<code class="before">root</code>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "+&lt;b&gt;X&lt;/b&gt;" in html and "-DEBUG" in html


def _allowlist(tmp_path: Path) -> Path:
    (tmp_path / "u").write_text("")
    path = tmp_path / "imagegate.yaml"
    path.write_text(
        "version: 1\ntarget: {registry: 'localhost:5000', namespace: acme}\n"
        f"state: {tmp_path / 'state.db'}\nconsole:\n  users_file: u\n"
        "images:\n  - source: docker.io/library/nginx\n    tags: ['1.27']\n    policy: review\n"
    )
    return path


def test_the_catalogue_says_rolled_back_by_and_renders_the_evidence(tmp_path):
    config = load_config(_allowlist(tmp_path))
    [nginx] = (e.target.name for e in config.images)
    approved = PendingChange(
        "docker.io/library/nginx", "1.27", nginx, None, D1,
        status=PendingStatus.APPLIED, decided_by="ann", decided_at=NOW, reason="ok",
    )  # fmt: skip
    later = NOW.replace(day=2)
    rollback = Event(
        EventKind.ROLLED_BACK, image=nginx, tag="1.27", digest=D1, old_digest=D2,
        actor="bob", reason="broke prod", at=later,
    )  # fmt: skip
    record = TagRecord(nginx, "1.27", "src", D1, D1, 1, NOW)
    [plain] = build_catalogue(config, [record], [approved], Snapshot())
    assert plain.tags[0].approval is not None and not plain.tags[0].approval.rollback
    [image] = build_catalogue(config, [record], [approved], Snapshot(), rollbacks=[rollback])
    approval = image.tags[0].approval
    assert approval is not None and approval.rollback and approval.by == "bob"
    verdicts = {
        (nginx, "1.27"): (
            Verdict("signature", VerdictResult.PASSED, "key <k1>"),
            Verdict("scanner", VerdictResult.FAILED),
        )
    }
    html = _env().get_template("catalogue.html").render(
        images=[image], total=1, shown=1, query="", state=None, states=[],
        snapshot=Snapshot(), verdicts=verdicts, **_common(),
    )  # fmt: skip
    assert "rolled back by bob" in html and "broke prod" in html
    assert "<th>evidence</th>" in html
    assert "signature: passed (key &lt;k1&gt;)" in html and "scanner: failed" in html
