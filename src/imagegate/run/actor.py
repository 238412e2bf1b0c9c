"""Who is acting: the name recorded with a review decision or a rollback."""

from __future__ import annotations

import getpass


def current_actor() -> str:
    """The OS user, or ``unknown`` when it cannot be found (no passwd entry in a container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
