"""A single-writer lock beside the state database: ``fcntl.flock`` on ``<db>.lock``.

The kernel releases a flock when its process dies, so a crashed run never leaves a stale lock.
The holder writes its PID into the file so that a refused run can say who holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from imagegate.errors import StateError
from imagegate.state.paths import FILE_MODE, os_error


def lock_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


@contextlib.contextmanager
def hold_lock(path: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration of the block.

    Without ``wait``, a lock held by another process raises :class:`StateError` at once.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise os_error(path, exc) from exc
        raise StateError(f"cannot open the lock file {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise StateError(
                f"another imagegate run holds {path}{_holder(fd)}; wait for it to finish "
                "(runs on one state file never overlap)"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # the disk is full: the PID is only for messages
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise os_error(path, exc) from exc
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
