"""Where the state database lives, and creating it with private permissions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from imagegate.errors import StateError

DIR_MODE = 0o700
FILE_MODE = 0o600


STATE_FILE_NAME = "state.db"


def default_state_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/imagegate/state.db``, else ``$HOME/.local/state/imagegate/state.db``.

    ``env`` defaults to ``os.environ``; the allowlist loader passes the environment it reads.
    """
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME", "")
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    # The XDG spec says to ignore relative values.
    root = Path(base) if base and os.path.isabs(base) else home / ".local" / "state"
    return root / "imagegate" / STATE_FILE_NAME


def prepare_file(path: Path) -> None:
    """Create the parent directory (0700) and the file (0600) if they do not exist yet.

    Existing directories and files keep their permissions: the admin may have chosen them.
    SQLite gives its ``-wal`` and ``-shm`` files the permissions of the database file.
    """
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        os.close(fd)
    except OSError as exc:
        raise StateError(
            f"cannot create the state database {path}: {exc.strerror}; "
            "check the permissions or choose another path with --state"
        ) from exc
