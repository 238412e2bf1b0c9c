"""Load the allowlist file (YAML) into a fully resolved ``domain.allowlist.Config``.

Strict: unknown keys, wrong types and invalid values are ``ConfigError`` naming
``file:line: key.path``. The format is documented in ``docs/allowlist.md``; its JSON Schema
is ``imagegate.config.schema.SCHEMA``. Relative paths are relative to the file's directory.
Each section has its parser module (target, registries, durations/schedule, notify, images,
trust, console); this one reads the file and puts the sections together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from imagegate.config.durations import SCHEDULE_KEYS, parse_schedule
from imagegate.config.images import parse_defaults, parse_images
from imagegate.config.notify import WEBHOOK_KEYS, parse_notify
from imagegate.config.registries import REGISTRY_KEYS, parse_registries
from imagegate.config.target import HUB_KEYS, IAM_KEYS, TARGET_KEYS, parse_target
from imagegate.config.trust import apply_trust
from imagegate.config.yamldoc import Node
from imagegate.config.yamlfile import Context, compose_file
from imagegate.domain.allowlist import SUPPORTED_VERSIONS, Config
from imagegate.domain.listen import ListenAddress, parse_listen

if TYPE_CHECKING:
    from imagegate.domain.console import ConsoleSettings

__all__ = [
    "HUB_KEYS",
    "IAM_KEYS",
    "REGISTRY_KEYS",
    "SCHEDULE_KEYS",
    "TARGET_KEYS",
    "TOP_KEYS",
    "WEBHOOK_KEYS",
    "load_config",
]

TOP_KEYS = frozenset(
    {"version", "target", "registries", "defaults", "images", "state", "schedule", "listen",
     "notify", "lock", "console"}
)  # fmt: skip


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve an allowlist file. ``env`` defaults to ``os.environ``."""
    file = Path(path)
    ctx = Context(display=str(path), env=os.environ if env is None else env)
    root = Node(compose_file(file, ctx), "", ctx)
    if not root.is_mapping:
        raise root.error("expected a mapping with 'version', 'target' and 'images' at the top")
    top = root.mapping(TOP_KEYS)
    _check_version(top.get("version"), root)
    missing = [k for k in ("target", "images") if k not in top]
    if missing:
        raise root.error(f"missing required key {missing[0]!r}")
    base = file.resolve().parent
    target = parse_target(top["target"])
    defaults = parse_defaults(top.get("defaults"))
    images = parse_images(top["images"], defaults, target)
    images = apply_trust(top.get("defaults"), top["images"], images, base)
    if target.hub is None and any(img.teams for img in images):
        top["images"].warn("team grants only apply to a Docker Hub target (target.hub); ignored")
    state = (
        top["state"].path(base) if "state" in top else _default_state(ctx.env)
    )  # fmt: skip
    return Config(
        path=file.resolve(),
        version=1,
        target=target,
        registries=MappingProxyType(parse_registries(top["registries"], base))
        if "registries" in top
        else MappingProxyType({}),
        images=images,
        state=state,
        schedule=parse_schedule(top["schedule"]) if "schedule" in top else None,
        listen=top["listen"].parsed(parse_listen) if "listen" in top else ListenAddress(),
        webhooks=parse_notify(top["notify"]) if "notify" in top else (),
        lock=top["lock"].path(base) if "lock" in top else None,
        console=_console(top["console"], base) if "console" in top else None,
        warnings=tuple(ctx.warnings),
    )


def _default_state(env: Mapping[str, str]) -> Path:
    """Where the state is when the file does not say: importing it imports the state package
    (SQLite and the stores), which `validate` of a file with `state:` does without."""
    from imagegate.state.paths import default_state_path  # noqa: PLC0415 - start-up

    return default_state_path(env)


def _console(n: Node, base: Path) -> ConsoleSettings:
    """``console:``, whose parser (and types) only an allowlist that has one imports."""
    from imagegate.config.console import parse_console  # noqa: PLC0415 - start-up

    return parse_console(n, base)


def _check_version(n: Node | None, root: Node) -> None:
    supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
    if n is None:
        raise root.error(f"missing 'version'; add 'version: 1' (supported: {supported})")
    version = n.integer()
    if version not in SUPPORTED_VERSIONS:
        raise n.error(
            f"unsupported version {version}; this imagegate reads version {supported} "
            "(upgrade imagegate for newer files)"
        )
