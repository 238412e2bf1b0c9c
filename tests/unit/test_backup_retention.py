"""Retention of backup tags (`backup_keep`): a pure planner decision, validated config."""

import json
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from imagegate.config.load import load_config
from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_repository
from imagegate.errors import ConfigError
from imagegate.plan.planner import (
    CopyTag,
    ImageDesired,
    ImageObservation,
    ImageState,
    PruneTag,
    StoredTag,
    TagObservation,
    backup_tag_for,
    plan,
)
from imagegate.plan.status import tag_statuses

D = [Digest.of(f"digest {i}".encode()) for i in range(8)]
SRC = parse_repository("up.example/x/app")
DST = parse_repository("mirror.example/acme/app")


def desired(keep, **kw):
    return ImageDesired(key="acme/app", source=SRC, target=DST, tags=("7",), backup_keep=keep, **kw)


def history(*digests):
    """Backups of tag 7, newest first, as the state knows them."""
    return {"7": tuple((backup_tag_for("7", d), d) for d in digests)}


def planned(img, state, upstream, target):
    obs = ImageObservation(tags={"7": TagObservation(upstream, target)})
    return plan([img], {img.key: obs}, {img.key: state}).actions


def deletions(actions):
    return [(a.tag, a.digest, a.backup_of) for a in actions if isinstance(a, PruneTag)]


def test_only_the_newest_n_backups_stay_and_this_runs_update_counts():
    # 7 holds D[0]; its backups, newest first: D[1], D[2], D[3], D[4]
    state = ImageState(stored={"7": StoredTag(D[0], D[0])}, backups=history(D[1], D[2], D[3], D[4]))
    actions = planned(desired(3), state, D[0], D[0])  # in sync: nothing new
    assert deletions(actions) == [(backup_tag_for("7", D[4]), D[4], "7")]

    # upstream moves 7 to D[5]: its old digest D[0] becomes the newest backup
    actions = planned(desired(3), state, D[5], D[0])
    [copy] = [a for a in actions if isinstance(a, CopyTag)]
    assert copy.backup_tag == backup_tag_for("7", D[0])
    assert deletions(actions) == [
        (backup_tag_for("7", D[3]), D[3], "7"),
        (backup_tag_for("7", D[4]), D[4], "7"),
    ]
    assert actions.index(copy) < actions.index(next(a for a in actions if isinstance(a, PruneTag)))
    assert all(a.target == DST.with_tag(a.tag) for a in actions if isinstance(a, PruneTag))


def test_a_backup_whose_digest_is_still_needed_is_never_deleted():
    state = ImageState(
        stored={"7": StoredTag(D[0], D[0]), "latest": StoredTag(D[3], D[3])},
        backups={
            **history(D[1], D[2], D[3], D[4], D[5], D[6]),
            "latest": ((backup_tag_for("latest", D[5]), D[5]),),  # within latest's limit
        },
        approved={"7": D[6]},
    )
    img = desired(2)
    # D[3]: held by the tag latest (deleting its manifest would delete latest);
    # D[5]: kept by latest's own backup; D[6]: approved, a later run mirrors it
    assert deletions(planned(img, state, D[0], D[0])) == [(backup_tag_for("7", D[4]), D[4], "7")]


def test_the_same_backup_twice_in_the_history_counts_once():
    # 7 flapped D1 -> D2 -> D1: the history names 7--prev-D1 twice
    state = ImageState(stored={"7": StoredTag(D[0], D[0])}, backups=history(D[1], D[2], D[1]))
    assert deletions(planned(desired(2), state, D[0], D[0])) == []


def test_plan_status_and_json_show_the_deletion_apart_from_mirrored_tags():
    state = ImageState(stored={"7": StoredTag(D[0], D[0])}, backups=history(D[1], D[2]))
    result = plan(
        [desired(1)],
        {"acme/app": ImageObservation(tags={"7": TagObservation(D[0], D[0])})},
        {"acme/app": state},
    )
    assert result.has_changes  # a deletion is a change, like prune
    statuses = tag_statuses(result, {}, {}, {})
    assert [s.tag for s in statuses] == ["7"]  # the backup tag is not a mirrored tag


CONFIG = """\
version: 1
target: {{registry: mirror.example, namespace: acme}}
{defaults}images:
  - source: up.example/x/app
    tags: ["7"]
{extra}"""


def load(tmp_path, defaults="", extra=""):
    path = tmp_path / "imagegate.yaml"
    path.write_text(CONFIG.format(defaults=defaults, extra=extra))
    return load_config(path)


def test_backup_keep_defaults_to_3_and_is_read_from_defaults_and_images(tmp_path):
    assert load(tmp_path).images[0].backup_keep == 3
    assert load(tmp_path, defaults="defaults: {backup_keep: 5}\n").images[0].backup_keep == 5
    cfg = load(tmp_path, defaults="defaults: {backup_keep: 5}\n", extra="    backup_keep: 1\n")
    assert cfg.images[0].backup_keep == 1


@pytest.mark.parametrize(
    ("value", "needle"),
    [("0", "must be at least 1, got 0"), ("101", "must be at most 100"), ("all", "whole number")],
)
def test_bad_backup_keep_names_the_line(tmp_path, value, needle):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, extra=f"    backup_keep: {value}\n")
    message = str(exc.value)
    assert ":6: images[0].backup_keep: " in message and needle in message, message


def test_the_json_schema_knows_backup_keep():
    schema = json.loads(
        subprocess.run(
            [sys.executable, "-m", "imagegate", "schema"], capture_output=True, check=True
        ).stdout
    )
    doc: dict[str, Any] = {
        "version": 1,
        "target": {"registry": "mirror.example", "namespace": "acme"},
        "defaults": {"backup_keep": 2},
        "images": [{"source": "x/app", "tags": ["7"], "backup_keep": 4}],
    }
    jsonschema.validate(doc, schema)
    doc["images"][0]["backup_keep"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
