"""The ``defaults:`` and ``images:`` sections of the allowlist: tags, platforms, teams, names.

Defaults are parsed once (errors point at their own lines) and merged into each image:
an image's ``tags`` replaces ``defaults.tags`` as a whole; ``teams`` are merged team by team
(``none`` removes a default grant); every other key simply overrides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from imagegate.config.yamldoc import Node, close_matches
from imagegate.domain.allowlist import (
    DEFAULT_BACKUP_KEEP,
    HUB_DESCRIPTION_MAX,
    MAX_BACKUP_KEEP,
    ImageEntry,
    Permission,
    Policy,
    TagRules,
    Target,
    Visibility,
)
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference, parse_repository
from imagegate.errors import ConfigError, InvalidReferenceError

# Imported where the file uses them (platforms, semver ranges, tag patterns; difflib for a
# typo's hint): start-up of the commands that read the allowlist (docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.domain.manifest import Platform

DEFAULT_KEYS = frozenset(
    {
        "platforms",
        "tags",
        "visibility",
        "teams",
        "policy",
        "prune",
        "backup",
        "backup_keep",
        "referrers",  # referrers, referrers_recheck, verify: config/trust.py
        "referrers_recheck",
        "verify",
    }
)
IMAGE_KEYS = DEFAULT_KEYS | {"source", "target", "description", "reason"}
TAG_RULE_KEYS = frozenset({"explicit", "include", "exclude", "semver", "newest", "prerelease"})

# Docker Hub repository names (reference/docker-hub-api.md §2): one path component.
HUB_NAME = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"  # fullmatch(), re.ASCII; compiled on first use
HUB_NAME_MIN, HUB_NAME_MAX = 2, 255
KNOWN_OS = frozenset(
    {"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
     "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}
)  # fmt: skip
KNOWN_ARCH = frozenset(
    {"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64",
     "ppc64le", "riscv64", "s390x", "wasm"}
)  # fmt: skip
ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386",
                "armhf": "arm/v7", "armel": "arm/v6"}  # fmt: skip
_VARIANT = r"v[0-9]+(?:\.[0-9]+)?"
_TEAM = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
NO_GRANT = "none"


@dataclass(frozen=True, slots=True)
class Defaults:
    tags: TagRules | None = None
    platforms: tuple[Platform, ...] | None = None
    visibility: Visibility = Visibility.PRIVATE
    teams: Mapping[str, Permission | None] = field(default_factory=dict)
    policy: Policy = Policy.AUTO
    prune: bool = False
    backup: bool = True
    backup_keep: int = DEFAULT_BACKUP_KEEP


def _pin_or_tag(n: Node) -> tuple[str, Digest | None]:
    text = n.string()
    tag, at, digest_text = text.partition("@")
    try:
        Reference("docker.io", "library/x").with_tag(tag)
        digest = Digest.parse(digest_text) if at else None
    except InvalidReferenceError as exc:
        raise n.error(str(exc).replace("'docker.io/library/x'", repr(text))) from None
    return tag, digest


def _explicit(items: list[Node]) -> tuple[tuple[str, ...], dict[str, Digest]]:
    tags: list[str] = []
    pins: dict[str, Digest] = {}
    for n in items:
        tag, digest = _pin_or_tag(n)
        if tag in tags:
            raise n.error(f"tag {tag!r} is listed twice")
        tags.append(tag)
        if digest is not None:
            pins[tag] = digest
    return tuple(tags), pins


def _regexes(n: Node) -> tuple[str, ...]:
    from imagegate.plan.tags import PatternError, compile_pattern  # noqa: PLC0415

    out = n.strings()
    for pattern in out:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise n.error(f"invalid regular expression {pattern!r} ({exc})") from None
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise n.error(f"unsupported regular expression {pattern!r}: {exc}") from None
    return tuple(out)


def parse_tags(n: Node) -> TagRules:
    """``tags:`` as a list of tags (``tag@sha256:...`` pins) or a mapping of rules."""
    if n.is_sequence:
        tags, pins = _explicit(n.sequence())
        if not tags:
            raise n.error("the list is empty; name at least one tag or use rules")
        return TagRules(explicit=tags, pins=MappingProxyType(pins))
    if not n.is_mapping:
        raise n.error(f"expected a list of tags or a mapping of rules, got {n.describe()}")
    m = n.mapping(TAG_RULE_KEYS)
    tags, pins = _explicit(m["explicit"].sequence()) if "explicit" in m else ((), {})
    semver = None
    if "semver" in m:
        from imagegate.domain.semver import parse_range  # noqa: PLC0415

        semver = m["semver"].string()
        try:
            parse_range(semver)
        except ConfigError as exc:
            raise m["semver"].error(exc.detail) from None
    if "prerelease" in m and semver is None:
        raise m["prerelease"].error("only applies with 'semver'; add a range or remove it")
    rules = TagRules(
        explicit=tags,
        pins=MappingProxyType(pins),
        include=_regexes(m["include"]) if "include" in m else (),
        exclude=_regexes(m["exclude"]) if "exclude" in m else (),
        semver=semver,
        newest=m["newest"].integer(minimum=1) if "newest" in m else None,
        prerelease=m["prerelease"].boolean() if "prerelease" in m else False,
    )
    if not rules.explicit and not rules.has_rules:
        raise n.error("selects no tag; give 'explicit' tags or include/exclude/semver/newest")
    return rules


def _platform(n: Node) -> Platform:
    from imagegate.domain.manifest import Platform  # noqa: PLC0415

    text = n.string()
    try:
        plat = Platform.parse(text)
    except InvalidReferenceError as exc:
        raise n.error(str(exc)) from None
    if plat.os not in KNOWN_OS:
        close = close_matches(plat.os, sorted(KNOWN_OS), 0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise n.error(f"invalid platform {text!r}: unknown OS {plat.os!r}{hint}")
    if plat.architecture not in KNOWN_ARCH:
        alias = ARCH_ALIASES.get(plat.architecture)
        hint = f"; Go/OCI calls it {alias!r}" if alias else ""
        raise n.error(
            f"invalid platform {text!r}: unknown architecture {plat.architecture!r}{hint}"
        )
    if plat.variant and not re.fullmatch(_VARIANT, plat.variant, re.ASCII):
        raise n.error(f"invalid platform {text!r}: variant must look like v7 or v8")
    return plat


def parse_platforms(n: Node) -> tuple[Platform, ...] | None:
    """``all`` (None: every platform, index unchanged) or a list of os/arch[/variant]."""
    if n.is_string:
        if n.string() != "all":
            raise n.error("expected 'all' or a list like [linux/amd64, linux/arm64/v8]")
        return None
    items = n.sequence()
    if not items:
        raise n.error("the list is empty; write 'all' or name at least one platform")
    out: list[Platform] = []
    for item in items:
        plat = _platform(item)
        if plat in out:
            raise item.error(f"platform {plat} is listed twice")
        out.append(plat)
    return tuple(out)


def parse_teams(n: Node) -> dict[str, Permission | None]:
    out: dict[str, Permission | None] = {}
    for name, value in n.pairs():
        if not re.fullmatch(_TEAM, name, re.ASCII):
            raise value.error(f"invalid team name {name!r}: letters, digits, '.', '_' and '-'")
        if value.is_string and value.string() == NO_GRANT:
            out[name] = None
        else:
            out[name] = value.choice(Permission)
    return out


def parse_defaults(n: Node | None) -> Defaults:
    if n is None:
        return Defaults()
    m = n.mapping(DEFAULT_KEYS)
    d = Defaults()
    return Defaults(
        tags=parse_tags(m["tags"]) if "tags" in m else None,
        platforms=parse_platforms(m["platforms"]) if "platforms" in m else d.platforms,
        visibility=m["visibility"].choice(Visibility) if "visibility" in m else d.visibility,
        teams=parse_teams(m["teams"]) if "teams" in m else d.teams,
        policy=m["policy"].choice(Policy) if "policy" in m else d.policy,
        prune=m["prune"].boolean() if "prune" in m else d.prune,
        backup=m["backup"].boolean() if "backup" in m else d.backup,
        backup_keep=_backup_keep(m["backup_keep"]) if "backup_keep" in m else d.backup_keep,
    )


def _backup_keep(n: Node) -> int:
    return n.integer(minimum=1, maximum=MAX_BACKUP_KEEP)


def _target_ref(n: Node | None, source: Reference, target: Target, where: Node) -> Reference:
    name = n.string() if n is not None else source.repository.rsplit("/", 1)[-1]
    node = n or where
    origin = "" if n is not None else f" (taken from the source {source.familiar!r})"
    if target.hub is not None:
        if "/" in name:
            raise node.error(
                f"target name {name!r}{origin}: Docker Hub repositories are namespace/name, "
                "so the name must be a single path component"
            )
        hub_name = re.fullmatch(HUB_NAME, name, re.ASCII)
        if not hub_name or not HUB_NAME_MIN <= len(name) <= HUB_NAME_MAX:
            raise node.error(
                f"target name {name!r}{origin} is not a valid Docker Hub repository name "
                f"(2-255 lowercase letters and digits, separated by single '.', '_' or '-')"
                + ("; set 'target:'" if n is None else "")
            )
    try:
        return target.repository(name)
    except InvalidReferenceError as exc:
        raise node.error(f"invalid target name {name!r}{origin}: {exc}") from None


def parse_image(n: Node, index: int, defaults: Defaults, target: Target) -> ImageEntry:
    m = n.mapping(IMAGE_KEYS, required=("source",))
    source_text = m["source"].string()
    try:
        source = parse_repository(source_text)
    except InvalidReferenceError as exc:
        tagged = "@" in source_text or ":" in source_text.rpartition("/")[2]  # not a port
        hint = "; list tags under 'tags:'" if tagged else ""
        raise m["source"].error(f"{exc}{hint}") from None
    dst = _target_ref(m.get("target"), source, target, m["source"])
    if dst == source:
        raise n.error(f"source and target are the same repository ({dst}); nothing to mirror")
    if "tags" in m:
        tags = parse_tags(m["tags"])
    elif defaults.tags is not None:
        tags = defaults.tags
    else:
        raise n.error("no tags: set 'tags:' on the image or in 'defaults:'")
    teams = dict(defaults.teams)
    if "teams" in m:
        teams.update(parse_teams(m["teams"]))
    description = m["description"].string() if "description" in m else None
    if description is not None and len(description) > HUB_DESCRIPTION_MAX:
        raise m["description"].error(
            f"is {len(description)} characters; Docker Hub allows {HUB_DESCRIPTION_MAX}"
        )
    return ImageEntry(
        source=source,
        source_text=source_text,
        target=dst,
        tags=tags,
        platforms=parse_platforms(m["platforms"]) if "platforms" in m else defaults.platforms,
        visibility=m["visibility"].choice(Visibility) if "visibility" in m else defaults.visibility,
        teams=MappingProxyType({k: v for k, v in sorted(teams.items()) if v is not None}),
        policy=m["policy"].choice(Policy) if "policy" in m else defaults.policy,
        prune=m["prune"].boolean() if "prune" in m else defaults.prune,
        backup=m["backup"].boolean() if "backup" in m else defaults.backup,
        description=description,
        reason=m["reason"].string() if "reason" in m else None,
        line=n.line,
        index=index,
        backup_keep=(
            _backup_keep(m["backup_keep"]) if "backup_keep" in m else defaults.backup_keep
        ),
    )


def parse_images(n: Node, defaults: Defaults, target: Target) -> tuple[ImageEntry, ...]:
    """Every image, in file order; two images with one target repository are an error."""
    items = n.sequence()
    if not items:
        raise n.error("the list is empty; add at least one image with a 'source:'")
    seen: dict[Reference, ImageEntry] = {}
    out: list[ImageEntry] = []
    for i, item in enumerate(items):
        img = parse_image(item, i, defaults, target)
        other = seen.get(img.target)
        if other is not None:
            raise item.error(
                f"{img.source_text!r} and {other.source_text!r} ({other.location}) both map "
                f"to {img.target.familiar}; set a different 'target:' on one of them"
            )
        seen[img.target] = img
        out.append(img)
    return tuple(out)
