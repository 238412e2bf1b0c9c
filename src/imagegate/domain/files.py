"""What kind of file a path is, in words, for errors about a path that is not a regular file."""

from __future__ import annotations

import stat


def file_kind(mode: int) -> str:
    """``st_mode`` -> "a directory", "a device", "a pipe", "a socket" or "not a regular file"."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
