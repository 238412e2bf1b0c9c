"""Reading a file a user names, safely: a regular file only, at most a given size, opened
without blocking (``/dev/zero``, a FIFO or a huge file is refused before it is read: reading
it would never end, or fill the memory). Used for the allowlist, secret files and
credentials files; each caller words its own errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotARegularFile(Exception):
    """The path is a directory, a device, a pipe or a socket; ``kind`` says which."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class FileTooLarge(Exception):
    """The file holds more than the limit."""


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


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them. Raises
    NotARegularFile, FileTooLarge, or the OSError of opening/reading it (FileNotFoundError...).
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files)
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(file_kind(mode))
        data = f.read(limit + 1)  # the size may change under us: read at most this
    if len(data) > limit:
        raise FileTooLarge(path)
    return data
