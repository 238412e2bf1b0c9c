"""Where the state database lives, and creating it with private permissions."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from imagegate.errors import StateError
from imagegate.files import file_kind

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


def _check_regular(path: Path) -> bool:
    """False if ``path`` does not exist; StateError if it is not a regular file."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise StateError(
            f"cannot open the state database {path}: {exc.strerror}; check the permissions "
            "or choose another path with --state"
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise StateError(
            f"the state database {path} is {file_kind(info.st_mode)}, not a file; point --state "
            "(or state: in the allowlist) at a file path, such as state.db"
        )
    return True


def check_readable(path: Path) -> bool:
    """For a read-only open: True if there is a state to read (an existing, non-empty file)."""
    return _check_regular(path) and path.stat().st_size > 0


def prepare_file(path: Path) -> None:
    """Create the parent directory (0700) and the file (0600) if they do not exist yet.

    Existing directories and files keep their permissions: the admin may have chosen them.
    SQLite gives its ``-wal`` and ``-shm`` files the permissions of the database file.
    A path that is not a regular file (``/dev/null``, a directory) is refused.
    """
    exists = _check_regular(path)
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        os.close(fd)
    except OSError as exc:
        raise os_error(path, exc, exists=exists) from exc


def os_error(path: Path, exc: OSError, *, exists: bool = True) -> StateError:
    """The StateError for an OSError on the state database (or its lock file) at ``path``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StateError(
            f"the disk holding the state database {path} is full ({exc.strerror}); free some "
            "space and run again"
        )
    if exists and exc.errno in (errno.EROFS, errno.EPERM, errno.EACCES):
        return StateError(
            f"the state database {path} is read-only ({exc.strerror}); make it writable (the "
            "file, its directory, a read-only mount or 'chattr +i') or choose another path with "
            "--state. status, history and pending can still read it"
        )
    return StateError(
        f"cannot create the state database {path}: {exc.strerror}; "
        "check the permissions or choose another path with --state"
    )
