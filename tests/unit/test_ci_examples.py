"""The CI examples of the Git workflow (examples/ci/): each file parses, has the jobs the docs
promise (validate and a markdown plan on pull requests, sync on merge and on a schedule, one
run at a time, the lock file committed back), and every imagegate command in it is accepted
by imagegate's own argument parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from imagegate.cli.main import _parse, build_parser

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
_COMMAND = re.compile(r"imagegate (?:validate|plan|sync|approve|reject|rollback)[^;>|&\n]*")
_EXPR = re.compile(r"\$\{\{[^}]*\}\}|\$[A-Z_]+")


def load(name: str) -> dict[Any, Any]:
    doc = yaml.safe_load((CI / name).read_text())
    assert isinstance(doc, dict)
    return doc


def scripts(doc: Any) -> list[str]:
    """Every shell line of a workflow (``run:`` or ``script:``/``after_script:`` items)."""
    out: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("run", "script", "after_script", "before_script"):
                items = value if isinstance(value, list) else [value]
                out += [line for item in items for line in str(item).splitlines()]
            else:
                out += scripts(value)
    elif isinstance(doc, list):
        for item in doc:
            out += scripts(item)
    return out


def commands(doc: Any) -> list[list[str]]:
    found = []
    for line in scripts(doc):
        for m in _COMMAND.finditer(line):
            text = _EXPR.sub("acme/redis:7.4", m.group(0))
            found.append(shlex.split(text)[1:])
    return found


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_every_imagegate_command_of_the_examples_parses(name):
    found = commands(load(name))
    assert {argv[0] for argv in found} == {"validate", "plan", "sync", "approve"}
    for argv in found:
        args = _parse(build_parser(argv), argv)
        assert args.command == argv[0]
    plan = next(argv for argv in found if argv[0] == "plan")
    assert plan[plan.index("--output") + 1] == "markdown"


def test_github_actions_workflow():
    doc = load("github-actions.yml")
    on = doc[True]  # YAML 1.1 reads the key `on` as a boolean
    assert {"pull_request", "push", "schedule", "workflow_dispatch"} <= set(on)
    assert doc["concurrency"]["cancel-in-progress"] is False
    jobs = doc["jobs"]
    assert "secrets." not in str(jobs["validate"])  # runs on forks: no secret needed
    assert jobs["plan"]["needs"] == "validate"
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert "gh pr comment" in str(jobs["plan"]["steps"])
    assert jobs["sync"]["permissions"]["contents"] == "write"
    assert any("git add imagegate.lock" in line for line in scripts(jobs["sync"]))


def test_gitlab_ci_pipeline():
    doc = load("gitlab-ci.yml")
    assert doc["sync"]["resource_group"] == "imagegate"  # one sync at a time
    for job in ("validate", "plan"):
        assert doc[job]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert "HUB_TOKEN" not in str(doc["validate"])
    assert any("git add imagegate.lock" in line for line in scripts(doc["sync"]))
    assert any("merge_requests" in line for line in scripts(doc["plan"]))
