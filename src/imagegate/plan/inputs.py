"""PURE values the planner takes in: what the allowlist wants (:class:`ImageDesired`), what
the registries hold (:class:`ImageObservation`) and what the state and the decisions recorded
(:class:`ImageState`). Observation (:mod:`imagegate.run.observe`) builds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from imagegate.domain.allowlist import Policy
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import EXIT_FAILURE


@dataclass(frozen=True, slots=True)
class ImageDesired:
    """One allowlist entry, resolved: which tags it wants and how to treat them."""

    key: str  # the source as written in the allowlist, for messages and state
    source: Reference  # repository only
    target: Reference  # repository only
    tags: tuple[str, ...]  # selected tags, in order
    pins: Mapping[str, Digest] = field(default_factory=dict)
    policy: Policy = Policy.AUTO
    prune: bool = False
    backup: bool = True
    rewrites_index: bool = False  # a platform subset gives the target its own digest
    backup_keep: int = 3  # backup tags kept per tag (plan/backups.py)
    # how often a mirrored digest's referrers are looked for again (plan/recheck.py; None: never)
    referrers_recheck: timedelta | None = None


@dataclass(frozen=True, slots=True)
class TagObservation:
    source_digest: Digest | None  # None: the tag does not exist upstream
    target_digest: Digest | None  # None: the tag does not exist on the target
    error: str | None = None  # the observation itself failed
    error_code: int = EXIT_FAILURE  # its exit code (EXIT_AUTH for 401/403)


@dataclass(frozen=True, slots=True)
class ImageObservation:
    tags: Mapping[str, TagObservation]
    upstream_tags: frozenset[str] | None = None  # the listing, when one was made
    error: str | None = None  # the whole image could not be observed
    error_code: int = EXIT_FAILURE


@dataclass(frozen=True, slots=True)
class StoredTag:
    source_digest: Digest  # what upstream pointed to when we mirrored it
    target_digest: Digest  # what the target tag was set to


@dataclass(frozen=True, slots=True)
class ImageState:
    stored: Mapping[str, StoredTag] = field(default_factory=dict)
    approved: Mapping[str, Digest] = field(default_factory=dict)  # approved, not yet applied
    rejected: frozenset[tuple[str, Digest]] = frozenset()
    pending: frozenset[tuple[str, Digest]] = frozenset()
    # per mirrored tag, the backup tags the state knows, newest first: (backup tag, digest)
    backups: Mapping[str, tuple[tuple[str, Digest], ...]] = field(default_factory=dict)
    # source digests whose stored verification verdict failed, with its reason
    blocked: Mapping[Digest, str] = field(default_factory=dict)
    # per mirrored source digest, when its referrers were last looked for (plan/recheck.py)
    referrers_checked: Mapping[Digest, datetime] = field(default_factory=dict)
