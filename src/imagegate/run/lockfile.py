"""I/O of the lock file (``lock:`` in the allowlist): read it, record decisions in it, and
migrate the decisions of an existing state database into it on first use.

With a lock file the state database keeps observations, runs and the audit log; every human
decision (approve, reject, rollback, gate override) is read from the lock file, so a lost or
fresh state file (a CI runner without a disk) changes nothing that was decided. Writes are
atomic (a temporary file in the same directory, fsync, rename) and serialized between
processes by an advisory lock on the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from imagegate.config.lockfile import parse_lock, render_lock
from imagegate.domain.allowlist import Config, Policy
from imagegate.domain.decisions import Decision, DecisionKind, Decisions
from imagegate.domain.digest import Digest
from imagegate.errors import ConfigError, InvalidReferenceError
from imagegate.state import EventKind, PendingStatus, StateStore


def now_seconds() -> datetime:
    """The time a decision is stamped with (whole seconds: the lock file's precision)."""
    return datetime.now(UTC).replace(microsecond=0)


def read_lock(config: Config) -> Decisions | None:
    """The lock file's decisions; None when no lock file is configured or it does not exist."""
    if config.lock is None or not config.lock.exists():
        return None
    return parse_lock(config.lock, _display(config))


def _display(config: Config) -> str:
    assert config.lock is not None
    try:
        return str(config.lock.relative_to(Path.cwd()))
    except ValueError:
        return str(config.lock)


def from_state(config: Config, store: StateStore) -> list[Decision]:
    """The decisions a state database holds, as lock entries, for the allowlist's images:
    approvals (review policy), rejections and rollbacks, with who, when and why."""
    review = {e.target.name for e in config.images if e.policy is Policy.REVIEW}
    listed = {e.target.name for e in config.images}
    out: list[Decision] = []
    rolled: set[tuple[str, str, Digest]] = set()
    for event in store.events(kind=EventKind.ROLLED_BACK, limit=1_000_000):
        rejected = event.detail.get("rejected_source_digest")
        restored = event.detail.get("restored_source_digest")
        if event.image not in listed or not event.tag or not rejected or not restored:
            continue
        if event.at is None:
            continue
        try:
            digest, back = Digest.parse(str(rejected)), Digest.parse(str(restored))
        except InvalidReferenceError:
            continue
        rolled.add((event.image, event.tag, digest))
        out.append(
            Decision(
                DecisionKind.ROLLBACK,
                event.image,
                event.tag,
                digest,
                by=event.actor or "unknown",
                at=event.at.replace(microsecond=0),
                reason=event.reason or "",
                restored=back,
            )
        )
    for status, kind in (
        (PendingStatus.APPLIED, DecisionKind.APPROVE),
        (PendingStatus.APPROVED, DecisionKind.APPROVE),
        (PendingStatus.REJECTED, DecisionKind.REJECT),
    ):
        for c in store.pending(status):
            if c.target_repo not in listed or c.decided_at is None:
                continue
            if kind is DecisionKind.APPROVE and c.target_repo not in review:
                continue
            if kind is DecisionKind.REJECT and (c.target_repo, c.tag, c.new_digest) in rolled:
                continue
            out.append(
                Decision(
                    kind,
                    c.target_repo,
                    c.tag,
                    c.new_digest,
                    by=c.decided_by or "unknown",
                    at=c.decided_at.replace(microsecond=0),
                    reason=c.reason or "",
                )
            )
    return out


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Serialize writers of ``path`` (an advisory lock on its directory: nothing is left
    behind next to a file that lives in a Git repository)."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_lock(path: Path, decisions: Decisions, allowlist: str) -> None:
    """Write atomically: a temporary file next to it, fsync, rename over it."""
    import tempfile  # noqa: PLC0415 - with shutil, zlib, bz2, lzma: only to write (start-up)

    text = render_lock(decisions, allowlist)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write(config: Config, decisions: Decisions) -> None:
    assert config.lock is not None
    try:
        write_lock(config.lock, decisions, config.path.name)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the lock file {config.lock}: {exc.strerror or exc}; make its "
            "directory writable",
        ) from None


def load_decisions(config: Config, store: StateStore | None) -> Decisions | None:
    """The decisions a run obeys: None without ``lock:`` (the state database decides, as
    before). A configured lock file that does not exist yet is created from the state's
    decisions (the one-time migration) when there are any."""
    if config.lock is None:
        return None
    found = read_lock(config)
    if found is not None:
        return found
    migrated = Decisions().merged(from_state(config, store)) if store is not None else Decisions()
    if migrated.entries:
        with _writing(config.lock):
            if not config.lock.exists():  # another process may have written it meanwhile
                _write(config, migrated)
        return read_lock(config) or migrated
    return migrated


def record(config: Config, store: StateStore | None, new: Iterable[Decision]) -> Decisions:
    """Add decisions to the lock file (migrating the state's first when it does not exist
    yet) and write it; returns what it now holds."""
    assert config.lock is not None
    with _writing(config.lock):
        current = read_lock(config)
        if current is None:
            current = Decisions().merged(from_state(config, store)) if store else Decisions()
        updated = current.merged(new)
        _write(config, updated)
    return updated


def reconcile(store: StateStore, decisions: Decisions) -> int:
    """Mark the state's pending changes that the lock file has decided (elsewhere: another
    owner's approval merged by pull request) approved or rejected, with the lock file's who,
    when and why, so `pending` does not list them. Returns how many were marked."""
    marked = 0
    with store.transaction():
        for change in store.pending(PendingStatus.PENDING):
            if change.id is None:
                continue
            digest = decisions.approved(change.target_repo).get(change.tag)
            found = _deciding(decisions, change.target_repo, change.tag, change.new_digest)
            if found is None:
                continue
            status = (
                PendingStatus.APPROVED if digest == change.new_digest else PendingStatus.REJECTED
            )
            store.decide(change.id, status, by=found.by, reason=found.reason, at=found.at)
            marked += 1
    return marked


def _deciding(decisions: Decisions, image: str, tag: str, digest: Digest) -> Decision | None:
    """The decision of ``image:tag@digest``: its approval, or its rejection or rollback."""
    approved = decisions.approved(image).get(tag) == digest
    for d in decisions.for_image(image):
        if d.tag != tag:
            continue
        if approved and d.kind is DecisionKind.APPROVE and d.digest == digest:
            return d
        if approved and d.kind is DecisionKind.ROLLBACK and d.restored == digest:
            return d
        rejects = d.kind in (DecisionKind.REJECT, DecisionKind.ROLLBACK)
        if not approved and rejects and d.digest == digest:
            return d
    return None
