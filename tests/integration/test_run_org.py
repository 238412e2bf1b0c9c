"""run/: the one executor carrying out a plan with Docker Hub steps (OrgSteps), at library
level, against the Hub double and a real docker-registry: an image whose Hub step failed is
not copied, and an image whose copy failed gets no description write."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.config.load import load_config
from imagegate.domain.digest import Digest
from imagegate.hub.models import HubStatus, UpdateDescription
from imagegate.plan.model import CopyTag, HubStep, Plan
from imagegate.run.execute import Executor
from imagegate.run.orgsteps import OrgSteps
from imagegate.run.sync import PlanReport, make_plan
from imagegate.run.wiring import registry_client, state_for
from tests.support.images import ImageFactory
from tests.support.org_world import ORG, allowlist, org_world

REDIS = "redis"


@pytest.fixture
def world(
    registry_pool, tmp_path: Path, image_factory: ImageFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimpleNamespace]:
    with org_world(registry_pool, tmp_path, image_factory, monkeypatch) as w:
        yield w


def execute(cfg: str, edit=lambda p: p) -> tuple[PlanReport, Executor, OrgSteps]:
    """make_plan, then the Executor with the plan's OrgSteps (``edit`` may change the plan)."""
    config = load_config(cfg)

    async def go() -> tuple[PlanReport, Executor, OrgSteps]:
        with state_for(config) as store:
            async with registry_client(config) as client, make_plan(config, client, store) as r:
                assert r.hub is not None and r.plan.org is not None
                org = OrgSteps(
                    r.hub, config, store, r.entries, r.plan.org, run_id=None, actor="test"
                )
                executor = Executor(client, store, r.entries, run_id=None, org=org)
                await executor.run(edit(r.plan))
                return r, executor, org

    return asyncio.run(go())


def test_an_image_whose_repository_step_failed_is_not_copied(world):
    """Docker Hub refuses every write (429, wait far too long): the Hub steps fail, their
    images fail with the Hub's message and are not copied; the org's own failure (the IAM
    settings) is named after the org."""

    def hub_refuses_writes(plan: Plan) -> Plan:
        world.hub.rate_limit_next(50, retry_after=3600)
        return plan

    report, executor, org = execute(allowlist(world), hub_refuses_writes)
    failures = {f.image: f.message for f in executor.outcome.failures}
    assert f"{ORG} (Docker Hub organization)" in failures  # IAM settings
    for key in report.entries:
        assert key in failures and "create repository" in failures[key]
    assert executor.outcome.copied == []
    assert all(o.status is not HubStatus.DONE for o in org.outcomes)
    assert f"{ORG}/{REDIS}" not in world.hub.model.repos


def test_a_failed_copy_gets_no_description_write(world):
    """The description step runs after the image's copies, and only when they all worked."""
    world.hub.model.add_repository(f"{ORG}/{REDIS}", description="stale text")
    cfg = allowlist(world)
    missing = Digest.of(b"nothing has this digest")

    def break_redis_copy(plan: Plan) -> Plan:
        def broken(a: object) -> object:
            if isinstance(a, CopyTag) and a.image.endswith("/redis"):
                return dataclasses.replace(a, source=a.source.with_digest(missing))
            return a

        return dataclasses.replace(plan, actions=tuple(broken(a) for a in plan.actions))  # type: ignore[misc]

    report, executor, org = execute(cfg, break_redis_copy)
    planned = [
        a.action.name
        for a in report.plan.actions
        if isinstance(a, HubStep) and isinstance(a.action, UpdateDescription)
    ]
    assert planned == [REDIS]  # the plan wanted to rewrite the stale text
    (failure,) = executor.outcome.failures
    assert failure.image.endswith("/redis") and failure.tag == "7.2"
    written = [o.action for o in org.outcomes if isinstance(o.action, UpdateDescription)]
    assert written == []  # skipped: its copy failed
    assert world.hub.model.repos[f"{ORG}/{REDIS}"].description == "stale text"
    assert [c[0].rsplit("/", 1)[-1] for c in executor.outcome.copied] == ["loki"]
    loki = world.hub.model.repos[f"{ORG}/loki"]
    assert "3.0.0" in loki.full_description  # created with what was really mirrored
