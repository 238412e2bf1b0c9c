"""The ``IMAGEGATE_*`` environment variables, read in this one place for every command.

A command-line option always wins over its variable; a variable wins over the allowlist
(``IMAGEGATE_STATE`` over ``state:``). A secret variable ``NAME`` also has ``NAME_FILE``: the
path of a file holding the secret (a mounted Kubernetes Secret, a CI secret file), read as
``${file:PATH}`` is (``imagegate.config.secrets``). Light: parser building imports this.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from imagegate.config.defaults import CONFIG_ENV, HUB_TOKEN_ENV
from imagegate.errors import UsageError

CONFIG = CONFIG_ENV
STATE = "IMAGEGATE_STATE"
LOG_FORMAT = "IMAGEGATE_LOG_FORMAT"
HUB_TOKEN = HUB_TOKEN_ENV
ACTOR = "IMAGEGATE_ACTOR"
CONSOLE_SECRET = "IMAGEGATE_CONSOLE_SECRET"  # noqa: S105 - a variable's name
LOG_FORMATS = ("auto", "text", "json")

# (name, meaning): docs/commands.md lists the same; tests/unit/test_env_overrides.py checks it
VARIABLES: tuple[tuple[str, str], ...] = (
    (CONFIG, "the allowlist file when -c/--config is not given"),
    (STATE, "the state database when --state is not given (over the allowlist's state:)"),
    (LOG_FORMAT, "auto, text or json when --log-format is not given"),
    (HUB_TOKEN, "the Docker Hub token when the allowlist gives no target.hub.token"),
    (HUB_TOKEN + "_FILE", f"a file holding it (when {HUB_TOKEN} is not set)"),
    (ACTOR, "who decides, for the audit log (approve, reject, rollback, sync)"),
    (CONSOLE_SECRET, "the console's session key when console.secret_file is not given"),
)


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def apply(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> None:
    """Fill the options not given on the command line from their variables (every command)."""
    environ = _environ(env)
    if getattr(args, "state", "") is None and environ.get(STATE):
        args.state = environ[STATE]
    if getattr(args, "log_format", "") is None:
        value = environ.get(LOG_FORMAT) or "auto"
        if value not in LOG_FORMATS:
            raise UsageError(
                f"{LOG_FORMAT}={value[:20]!r} is not a log format; use {', '.join(LOG_FORMATS)}"
            )
        args.log_format = value


def config_file(option: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """-c FILE, else ``$IMAGEGATE_CONFIG``; None when neither is given."""
    return option or _environ(env).get(CONFIG) or None


def hub_token(env: Mapping[str, str] | None = None) -> str | None:
    """``$IMAGEGATE_HUB_TOKEN``, else the content of ``$IMAGEGATE_HUB_TOKEN_FILE``."""
    from imagegate.config.secrets import file_from_env

    return file_from_env(_environ(env), HUB_TOKEN)
