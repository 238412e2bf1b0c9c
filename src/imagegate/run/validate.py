"""``imagegate validate``: check the allowlist and its lock file offline.

No network, no credentials, no state database: what a pull request from a fork can check.
The allowlist is loaded as every command loads it (schema, references, tag rules) with
``${VARIABLES}`` that are not set replaced by a placeholder (a fork's CI has no secrets), and
the lock file is parsed and checked against it (:func:`imagegate.domain.decisions.consistency`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from imagegate.config.load import load_config
from imagegate.config.secrets import placeholders_for_missing_files
from imagegate.domain.allowlist import Config
from imagegate.errors import ConfigError

if TYPE_CHECKING:  # the lock file's modules: imported when there is one (start-up)
    from imagegate.domain.decisions import Decisions

PLACEHOLDER = "unset"


_UNSET = re.compile(r"environment variable ([A-Za-z_][A-Za-z0-9_]*) is not set")
MAX_UNSET = 100


def load_offline(path: Path, env: Mapping[str, str]) -> tuple[Config, list[str]]:
    """Load the allowlist; a ``${VARIABLE}`` that is not set (a fork's CI has no secrets)
    reads as a placeholder. Returns the config and the names replaced."""
    values = dict(env)
    missing: list[str] = []
    while True:
        try:
            return load_config(path, env=values), missing
        except ConfigError as exc:
            m = _UNSET.search(str(exc))
            if m is None or m.group(1) in values or len(missing) >= MAX_UNSET:
                raise
            values[m.group(1)] = PLACEHOLDER
            missing.append(m.group(1))


@dataclass(frozen=True, slots=True)
class Validation:
    config: Config
    decisions: Decisions | None  # None: no lock file configured, or it does not exist yet
    problems: tuple[str, ...] = ()  # each "file:line: message"
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(path: Path, env: Mapping[str, str] | None = None) -> Validation:
    """ConfigError (exit 3) for an invalid allowlist or lock file text; ``problems`` for
    decisions that do not fit the allowlist."""
    with placeholders_for_missing_files() as missing_files:
        config, missing = load_offline(path, os.environ if env is None else env)
    notes = [
        f"environment variable {name} is not set; checked with a placeholder"
        for name in sorted(missing)
    ]
    notes += [
        f"secret file {name} does not exist; checked with a placeholder"
        for name in sorted(set(missing_files))
    ]
    if config.lock is None:
        return Validation(config, None, notes=tuple(notes))
    if not config.lock.exists():
        notes.append(f"the lock file {config.lock.name} does not exist yet (no decision made)")
        return Validation(config, None, notes=tuple(notes))
    from imagegate.config.lockfile import parse_lock  # noqa: PLC0415
    from imagegate.domain.decisions import consistency  # noqa: PLC0415

    decisions = parse_lock(config.lock, display=_shown(config.lock))
    policies = {e.target.name: str(e.policy) for e in config.images}
    pins = {(e.target.name, tag) for e in config.images for tag in e.tags.pins}
    problems = [
        f"{_shown(config.lock)}:{d.line}: {message}"
        for d, message in consistency(decisions, policies)
    ]
    notes += [
        f"{_shown(config.lock)}:{d.line}: {d.image}:{d.tag} is pinned in the allowlist; the "
        "pin wins over this decision"
        for d in decisions.entries
        if (d.image, d.tag) in pins
    ]
    return Validation(config, decisions, tuple(problems), tuple(notes))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
