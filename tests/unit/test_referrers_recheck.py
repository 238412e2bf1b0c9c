"""The referrers re-check schedule: the pure decision of which mirrored digests are due
(plan/recheck.py, the clock passed in), its place in the plan and `plan`'s text, and the
``referrers_recheck`` allowlist key (loader and JSON Schema)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from imagegate.cli.planview import plan_json, render_plan
from imagegate.config.load import load_config
from imagegate.config.schema import SCHEMA
from imagegate.domain.allowlist import DEFAULT_REFERRERS_RECHECK
from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_repository
from imagegate.errors import ConfigError
from imagegate.plan.planner import (
    ImageDesired,
    ImageObservation,
    ImageState,
    StoredTag,
    TagObservation,
    plan,
)

A, B = Digest.of(b"a"), Digest.of(b"b")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(hours=24)


def image(recheck: timedelta | None = DAY, tags: tuple[str, ...] = ("1", "2")) -> ImageDesired:
    return ImageDesired(
        key="127.0.0.1:5000/acme/app",
        source=parse_repository("up/app"),
        target=parse_repository("127.0.0.1:5000/acme/app"),
        tags=tags,
        referrers_recheck=recheck,
    )


def in_sync(digest: Digest = A) -> ImageObservation:
    return ImageObservation(tags={"1": TagObservation(digest, digest), "2": TagObservation(B, B)})


def state(checked: dict[Digest, datetime]) -> ImageState:
    return ImageState(
        stored={"1": StoredTag(A, A), "2": StoredTag(B, B)}, referrers_checked=checked
    )


def rechecks(img: ImageDesired, st: ImageState, now: datetime | None) -> list[tuple[str, bool]]:
    p = plan([img], {img.key: in_sync()}, {img.key: st}, now=now)
    return [(str(r.digest), r.probe) for r in p.rechecks]


def test_a_digest_is_due_once_its_interval_has_passed() -> None:
    st = state({A: T0, B: T0 + timedelta(hours=12)})
    assert rechecks(image(), st, T0 + timedelta(hours=23)) == []
    assert rechecks(image(), st, T0 + DAY) == [(str(A), True)]
    assert rechecks(image(), st, T0 + DAY * 2) == [(str(A), True), (str(B), True)]


def test_no_clock_or_off_means_no_recheck_and_unknown_digests_are_only_recorded() -> None:
    st = state({A: T0})
    assert rechecks(image(), st, None) == []  # `status` and callers without a clock
    assert rechecks(image(recheck=None), st, T0 + DAY * 400) == []
    assert rechecks(image(), st, T0 + timedelta(hours=1)) == [(str(B), False)]


def test_only_settled_digests_are_rechecked_once_each() -> None:
    img = image(tags=("1", "2"))
    moved = ImageObservation(tags={"1": TagObservation(B, A), "2": TagObservation(B, B)})
    st = ImageState(stored={"1": StoredTag(A, A), "2": StoredTag(B, B)}, referrers_checked={})
    p = plan([img], {img.key: moved}, {img.key: st}, now=T0)
    # tag 1 is copied (its copy discovers referrers itself); tag 2 settled on B: recorded
    assert [(str(r.digest), r.tag) for r in p.rechecks] == [(str(B), "2")]
    same = ImageObservation(tags={"1": TagObservation(A, A), "2": TagObservation(A, A)})
    both_a = ImageState(
        stored={"1": StoredTag(A, A), "2": StoredTag(A, A)}, referrers_checked={A: T0}
    )
    p = plan([img], {img.key: same}, {img.key: both_a}, now=T0 + DAY)
    assert [r.tag for r in p.rechecks] == ["1"]  # one probe per digest, not per tag
    assert p.rechecks[0].target.digest == A and p.rechecks[0].source.digest == A


def test_plan_shows_the_count_of_due_digests() -> None:
    img = image()
    p = plan([img], {img.key: in_sync()}, {img.key: state({A: T0, B: T0})}, now=T0 + DAY)
    assert p.recheck_probes == 2 and not p.has_changes
    text = render_plan(p, {})
    assert text.startswith("Everything is in sync")
    assert "Referrers re-check: 2 mirrored digests are due" in text
    assert plan_json(p, {})["referrers_recheck"] == 2
    quiet = plan([img], {img.key: in_sync()}, {img.key: state({A: T0, B: T0})}, now=T0)
    assert "Referrers re-check" not in render_plan(quiet, {})


CONFIG = """\
version: 1
target: {{registry: "127.0.0.1:5000", namespace: mirror}}
{defaults}images:
  - source: bitnami/redis
    tags: ["7.2"]
{image}"""


def load(tmp_path: Path, defaults: str = "", image: str = "") -> list[timedelta | None]:
    path = tmp_path / "imagegate.yaml"
    text = CONFIG.format(defaults=defaults, image=image)
    path.write_text(text)
    doc = yaml.safe_load(text)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return [e.referrers_recheck for e in load_config(path, env={}).images]


@pytest.mark.parametrize(
    ("defaults", "image", "want"),
    [
        ("", "", DEFAULT_REFERRERS_RECHECK),
        ("defaults:\n  referrers_recheck: 6h\n", "", timedelta(hours=6)),
        ("defaults:\n  referrers_recheck: off\n", "", None),
        ("defaults:\n  referrers_recheck: 0\n", "", None),
        (
            "defaults:\n  referrers_recheck: 6h\n",
            "    referrers_recheck: 30m\n",
            timedelta(minutes=30),
        ),
        ("", '    referrers_recheck: "off"\n', None),
    ],
)
def test_the_key_in_defaults_and_per_image(
    tmp_path: Path, defaults: str, image: str, want: timedelta | None
) -> None:
    assert DEFAULT_REFERRERS_RECHECK == DAY
    assert load(tmp_path, defaults, image) == [want]


def test_a_bad_interval_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "imagegate.yaml"
    path.write_text(CONFIG.format(defaults="", image="    referrers_recheck: daily\n"))
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    msg = str(exc.value)
    assert "imagegate.yaml:6" in msg and "referrers_recheck" in msg and "'off'" in msg, msg
    assert len(msg.splitlines()) == 1
