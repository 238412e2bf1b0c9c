"""The validated allowlist: frozen values produced by ``imagegate.config.load.load_config``.

Everything here is fully resolved: defaults are merged into each ``ImageEntry``, ``${ENV}``
references are expanded, paths are absolute and references are normalized. The file format
itself is documented in ``docs/allowlist.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from imagegate.domain.listen import ListenAddress
from imagegate.domain.reference import Reference, parse_reference
from imagegate.domain.referrers import ReferrerSelection
from imagegate.errors import InvalidReferenceError, UsageError

# Types of optional sections, named only in annotations: a command that reads the allowlist
# does not import the console, schedule, manifest or verification modules unless the file
# uses them (start-up, docs/benchmarks.md; tests/integration/test_startup_imports.py).
if TYPE_CHECKING:
    from imagegate.domain.console import ConsoleSettings
    from imagegate.domain.digest import Digest
    from imagegate.domain.manifest import Platform
    from imagegate.domain.schedule import Schedule
    from imagegate.domain.trust import VerifyPolicy

SUPPORTED_VERSIONS = (1,)
DEFAULT_HUB_URL = "https://hub.docker.com"
HUB_DESCRIPTION_MAX = 100  # Docker Hub's limit for a short description


class Secret:
    """A secret string: ``repr``/``str`` give ``***``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


class Visibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"

    @property
    def is_private(self) -> bool:
        return self is Visibility.PRIVATE

    @classmethod
    def of(cls, is_private: bool) -> Visibility:
        return cls.PRIVATE if is_private else cls.PUBLIC


class Permission(StrEnum):
    """A team's permission on a repository (Docker Hub: read < write < admin)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Policy(StrEnum):
    """What happens to a new or moved upstream digest (issue: continuous tracking)."""

    AUTO = "auto"  # mirrored on the next run
    REVIEW = "review"  # pending until approved
    PIN = "pin"  # never changes; upstream moves are reported only


class TeamsMode(StrEnum):
    ADDITIVE = "additive"  # grants not in the file are reported, never removed
    EXCLUSIVE = "exclusive"  # grants not in the file are removed


class WebhookFormat(StrEnum):
    SLACK = "slack"
    JSON = "json"


class NotifyEvent(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    FAILED = "failed"
    SUMMARY = "summary"


def _no_pins() -> Mapping[str, Digest]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TagRules:
    """Which tags of a source to mirror; ``imagegate.plan.tags.select_tags`` applies them.

    ``explicit`` tags are always selected (pinned tags are among them). ``include`` and
    ``exclude`` are regular expressions (``re.search``), ``semver`` an npm-style range.
    """

    explicit: tuple[str, ...] = ()
    pins: Mapping[str, Digest] = field(default_factory=_no_pins, hash=False)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    semver: str | None = None
    newest: int | None = None
    prerelease: bool = False  # let the semver range accept pre-release tags (7.2.4-alpine)

    @property
    def has_rules(self) -> bool:
        """True when tags beyond the explicit ones are selected from the source's tag list."""
        return bool(self.include or self.exclude or self.semver is not None or self.newest)


@dataclass(frozen=True, slots=True)
class AccessManagement:
    """Image Access Management settings of the Docker Hub organization."""

    enabled: bool = True
    allow_official_images: bool = True
    allow_verified_publishers: bool = True


@dataclass(frozen=True, slots=True)
class HubSettings:
    """How to reach the Docker Hub API. ``username``/``token`` None: use the Docker config."""

    url: str = DEFAULT_HUB_URL
    username: str | None = None
    token: Secret | None = None
    # team name -> its id (``org_group.id``): grants without listing the org's teams
    team_ids: Mapping[str, int] = field(default_factory=dict, hash=False)
    # a second credential (an org access token) used only to list the org's teams, for a
    # ``token`` that cannot (a PAT); ``teams_username`` None: the target namespace
    teams_username: str | None = None
    teams_token: Secret | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where images are mirrored. ``hub`` is set when the target is managed through Hub's API."""

    registry: str
    namespace: str
    hub: HubSettings | None = None
    access_management: AccessManagement | None = None  # None: leave the org settings alone
    manage_teams: TeamsMode = TeamsMode.ADDITIVE

    def repository(self, name: str) -> Reference:
        """The target repository (no tag) for a target name relative to the namespace."""
        path = f"{self.namespace}/{name}" if self.namespace else name
        return parse_reference(f"{self.registry}/{path}", default_tag=None)


# What ``registries.<host>`` accepts for the time limits (seconds; KiB).
REQUEST_TIMEOUT_RANGE = (1.0, 3600.0)
STALL_WINDOW_RANGE = (1.0, 3600.0)
STALL_MIN_KIB_RANGE = (1, 1024 * 1024)


@dataclass(frozen=True, slots=True)
class RegistrySettingsEntry:
    """Connection settings for one registry host (``registries:`` in the file)."""

    host: str
    insecure: bool = False  # plain HTTP, or HTTPS without certificate verification
    ca_file: Path | None = None
    username: str | None = None
    password: Secret | None = None
    max_concurrency: int | None = None
    rate_limit_floor: int | None = None  # pause when remaining pulls fall below this
    request_timeout: float | None = None  # seconds for a whole non-blob request
    stall_window: float | None = None  # seconds: a blob transfer moving less than
    stall_min_kib: int | None = None  # ... this many KiB in that window fails


DEFAULT_BACKUP_KEEP = 3  # `backup_keep:` backup tags kept per mirrored tag
DEFAULT_REFERRERS_RECHECK = timedelta(hours=24)  # `referrers_recheck:` per mirrored digest
MAX_BACKUP_KEEP = 100


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One allowlisted image with every default merged in."""

    source: Reference  # repository only (no tag/digest)
    source_text: str  # as written in the file
    target: Reference  # repository only, on the target registry, e.g. docker.io/acme/loki
    tags: TagRules
    platforms: tuple[Platform, ...] | None  # None: all platforms (index copied unchanged)
    visibility: Visibility
    teams: Mapping[str, Permission] = field(hash=False)
    policy: Policy
    prune: bool
    backup: bool
    description: str | None
    reason: str | None
    line: int  # line of the entry in the file
    index: int  # position in `images:`
    backup_keep: int = DEFAULT_BACKUP_KEEP  # backup tags kept per tag; older ones are deleted
    referrers: ReferrerSelection = field(
        default_factory=ReferrerSelection
    )  # what travels with it (signatures...)
    verify: VerifyPolicy | None = None  # the gates a new digest must pass (None: none)
    # how often a mirrored digest's referrers are looked for again at the source (None: never)
    referrers_recheck: timedelta | None = DEFAULT_REFERRERS_RECHECK

    @property
    def location(self) -> str:
        return f"images[{self.index}] (line {self.line})"

    def matches(self, name: str) -> bool:
        """Whether ``name`` designates this image: the source as written, or either repository."""
        if name in (self.source_text, self.source.familiar, self.source.name):
            return True
        if name in (self.target.name, self.target.familiar, self.target.repository):
            return True
        try:
            ref = parse_reference(name, default_tag=None)
        except InvalidReferenceError:
            return False
        return ref.repo_only() in (self.source, self.target)


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: all of it that may be logged."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme or '?'}://{host}{port}"


_WEBHOOK_URL = r"https?://[^\s/]+(?:/\S*)?"  # compiled on first use (re caches it)


def is_webhook_url(url: str) -> bool:
    """An http(s) URL with a host and a valid port (the loader's one check of a webhook URL)."""
    if not re.fullmatch(_WEBHOOK_URL, url, re.ASCII):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return False
    return bool(parts.hostname)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """One webhook. ``events`` picks the messages it gets; ``quiet`` skips summaries of runs
    where nothing was pending, published or failed. The URL is a secret: log ``origin``."""

    url: Secret
    format: WebhookFormat = WebhookFormat.JSON
    events: frozenset[NotifyEvent] = frozenset(NotifyEvent)
    quiet: bool = True

    @property
    def origin(self) -> str:
        return url_origin(self.url.reveal())


@dataclass(frozen=True, slots=True)
class Config:
    """The whole allowlist file, validated and resolved."""

    path: Path
    version: int
    target: Target
    registries: Mapping[str, RegistrySettingsEntry] = field(hash=False)
    images: tuple[ImageEntry, ...]
    state: Path
    schedule: Schedule | None = None
    listen: ListenAddress = field(default_factory=ListenAddress)
    webhooks: tuple[WebhookConfig, ...] = ()
    lock: Path | None = None  # the lock file of review decisions (None: decisions in the state)
    console: ConsoleSettings | None = None  # the web console (`console:`); None: not set up
    warnings: tuple[str, ...] = ()  # worth telling the user (e.g. a secret written in clear)

    def find_image(self, name: str) -> ImageEntry | None:
        """The entry ``name`` designates: its source (as written or normalized), its target
        repository, or else its target's short name (``redis`` for ``acme/redis``: the name
        relative to the namespace, or its last path element) when only one image has it.

        Raises ``UsageError`` naming the candidates when a short name is ambiguous.
        """
        exact = next((img for img in self.images if img.matches(name)), None)
        if exact is not None or not name or name.startswith("/") or name.endswith("/"):
            return exact
        found = [img for img in self.images if name in self._short_names(img)]
        if len(found) > 1:
            names = ", ".join(f"{img.target.familiar} ({img.location})" for img in found)
            raise UsageError(
                f"image {name!r} is ambiguous: it matches {names}; name one by its target "
                "repository"
            )
        return found[0] if found else None

    def _short_names(self, image: ImageEntry) -> tuple[str, str]:
        """The target name relative to the namespace, and its last path element."""
        repo = image.target.repository
        prefix = f"{self.target.namespace}/" if self.target.namespace else ""
        relative = repo.removeprefix(prefix) if prefix and repo.startswith(prefix) else repo
        return relative, repo.rsplit("/", 1)[-1]

    def registry(self, host: str) -> RegistrySettingsEntry:
        """Settings for a registry host (defaults when the file says nothing about it)."""
        return self.registries.get(host) or RegistrySettingsEntry(host=host)
