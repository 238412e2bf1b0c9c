"""Tag selection (PURE): which of a source's tags an allowlist entry mirrors.

Steps, in order, over the source's tag list:

1. ``include``: keep tags that match ANY pattern (``re.search``: anchor with ``^``/``$``
   for a whole-tag match); no ``include`` keeps every tag.
2. ``exclude``: drop tags that match ANY pattern (``re.search`` too).
3. ``semver``: keep tags that parse as versions (optional ``v``, 1-3 numbers, optional
   ``-suffix``) inside the range; others are dropped. A ``-suffix`` is a pre-release: it
   matches only when the range names a pre-release of the same version, or ``prerelease``.
4. ``newest``: keep the first N in *newest-first order*: version-like tags by version,
   highest first (``1.10`` > ``1.9``; for equal versions, the longer spelling first), then
   the other tags by natural order, highest first (``build-10`` > ``build-9``).

Explicit tags (and pinned ``tag@digest`` tags) are always selected, listed or not.
The result is the explicit tags in file order, then the selected ones newest-first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from imagegate.domain.allowlist import TagRules
from imagegate.domain.semver import Range, Version, parse_range, parse_version

_DIGITS = re.compile(r"(\d+)")


def needs_listing(rules: TagRules) -> bool:
    """Whether the source's tag list is needed (False for explicit tags and pins only)."""
    return rules.has_rules


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


@lru_cache(maxsize=256)
def _range(text: str) -> Range:
    return parse_range(text)


def _natural_key(tag: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part)
        for part in _DIGITS.split(tag)
        if part
    )


def newest_first(tags: Iterable[str]) -> list[str]:
    """Version-like tags by version (highest first), then the others by natural order."""
    versions: list[tuple[Version, str]] = []
    others: list[str] = []
    for tag in tags:
        v = parse_version(tag)
        if v is None:
            others.append(tag)
        else:
            versions.append((v, tag))
    versions.sort(key=lambda vt: (vt[0].sort_key(), len(vt[1]), vt[1]), reverse=True)
    others.sort(key=lambda t: (_natural_key(t), t), reverse=True)
    return [t for _, t in versions] + others


def _matches_any(patterns: Sequence[str], tag: str) -> bool:
    return any(_pattern(p).search(tag) for p in patterns)


def select_tags(rules: TagRules, available: Sequence[str]) -> tuple[str, ...]:
    """Apply ``rules`` to the source's tags; see the module docstring for the order."""
    explicit = list(dict.fromkeys(rules.explicit))
    if not rules.has_rules:
        return tuple(explicit)
    picked = [t for t in dict.fromkeys(available) if t not in rules.explicit]
    if rules.include:
        picked = [t for t in picked if _matches_any(rules.include, t)]
    if rules.exclude:
        picked = [t for t in picked if not _matches_any(rules.exclude, t)]
    if rules.semver is not None:
        rng = _range(rules.semver)
        kept: list[str] = []
        for tag in picked:
            v = parse_version(tag)
            if v is not None and rng.contains(v, include_prerelease=rules.prerelease):
                kept.append(tag)
        picked = kept
    ordered = newest_first(picked)
    if rules.newest is not None:
        ordered = ordered[: rules.newest]
    return (*explicit, *ordered)
