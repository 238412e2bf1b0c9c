"""The import rules of the layers (docs/architecture.md), checked on the source with ``ast``.

- ``domain/`` imports nothing of imagegate but ``errors``;
- ``plan/`` does no I/O: no aiohttp, sqlite3, socket, subprocess, asyncio, and none of
  imagegate's I/O packages (state, registry, hub client/transport/apply/observe, run);
- the subsystems (registry, engine, state, hub, notify) never import config, plan, run,
  watch or cli;
- ``run/`` never imports cli or watch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "imagegate"
SUBSYSTEMS = ("registry", "engine", "state", "hub", "notify")
PLAN_FORBIDDEN = (
    "aiohttp",
    "sqlite3",
    "socket",
    "subprocess",
    "asyncio",
    "imagegate.state",
    "imagegate.registry",
    "imagegate.hub.client",
    "imagegate.hub.transport",
    "imagegate.hub.apply",
    "imagegate.hub.observe",
    "imagegate.run",
)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from x import y`` also counts ``x.y``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(SRC.parent)} imports {name}"
        for path in modules(package)
        for name in sorted(imports(path))
        if within(name, forbidden)
    ]


def test_domain_imports_only_errors_of_imagegate() -> None:
    bad = [
        f"{path.relative_to(SRC.parent)} imports {name}"
        for path in modules("domain")
        for name in sorted(imports(path))
        if within(name, ("imagegate",))
        and not within(name, ("imagegate.errors", "imagegate.domain"))
    ]
    assert bad == []


def test_plan_does_no_io() -> None:
    assert violations("plan", PLAN_FORBIDDEN) == []


@pytest.mark.parametrize("package", SUBSYSTEMS)
def test_subsystems_do_not_import_the_layers_above(package: str) -> None:
    above = tuple(f"imagegate.{p}" for p in ("config", "plan", "run", "watch", "cli"))
    assert violations(package, above) == []


def test_run_does_not_import_cli_or_watch() -> None:
    assert violations("run", ("imagegate.cli", "imagegate.watch")) == []


def test_only_the_top_layers_import_the_console() -> None:
    """The web console sits beside watch/: it uses run/, plan/ and state like the CLI does;
    only watch/ and cli/ mount or start it, and it never imports them."""
    below = ("domain", "config", "plan", "run", *SUBSYSTEMS)
    assert [v for p in below for v in violations(p, ("imagegate.console",))] == []
    assert violations("console", ("imagegate.cli", "imagegate.watch")) == []


def test_the_rules_see_imports() -> None:
    """The checker itself: it finds the imports a module really has."""
    found = imports(SRC / "run" / "sync.py")
    assert "imagegate.plan.planner" in found and "imagegate.run.orgsteps.OrgSteps" in found
    assert modules("plan") and all(p.suffix == ".py" for p in modules("plan"))
