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

Patterns run on RE2 (``google-re2``), a linear-time engine: the tag list is the source
registry's to choose, so no pattern may take exponential time on it (``^(a+)+$`` against
``aaaa...ab`` finishes in microseconds). RE2 takes Python's syntax except backreferences,
lookaround, possessive/atomic groups and ``\\Z`` (write ``$`` or ``\\z``); such patterns are
refused when the allowlist is loaded (:func:`compile_pattern`). Tags longer than
:data:`MAX_TAG_LENGTH` (the OCI limit) never reach the patterns: the client drops them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import re2

from imagegate.domain.allowlist import TagRules
from imagegate.domain.semver import Range, Version, parse_range, parse_version

_DIGITS = r"(\d+)"  # compiled on first use (re caches them): start-up
MAX_TAG_LENGTH = 128  # OCI distribution: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
MAX_PATTERN_MEMORY = 8 << 20  # bytes RE2 may use for one compiled pattern
_BACKREF = r"invalid escape sequence: \\[1-9]"
_HINTS = (
    ("invalid escape sequence: \\Z", "; write $ or \\z for the end of the tag"),
    ("invalid perl operator: (?=", " (lookahead is not supported; use exclude: instead)"),
    ("invalid perl operator: (?!", " (negative lookahead is not supported; use exclude:)"),
    ("invalid perl operator: (?<", " (lookbehind is not supported; use exclude: instead)"),
    ("invalid perl operator: (?>", " (atomic groups are not supported)"),
    ("bad repetition operator", " (possessive quantifiers like a++ are not supported)"),
    ("invalid perl operator: (?P", " (backreferences like (?P=name) are not supported)"),
    ("invalid repetition size", " (at most {1000})"),
)


class PatternError(ValueError):
    """A tag pattern the linear-time engine cannot run; the message says why."""


def _options() -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = MAX_PATTERN_MEMORY
    return opts


def compile_pattern(text: str) -> re2._Regexp[str]:
    """Compile a tag pattern for RE2, or PatternError saying what is unsupported."""
    try:
        return re2.compile(text, _options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        reason = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        hint = next((h for key, h in _HINTS if key in reason), "")
        if re.search(_BACKREF, reason):
            hint = " (backreferences like \\1 are not supported)"
        raise PatternError(
            f"{reason}{hint}; tag patterns run on RE2, a linear-time engine without "
            "backreferences and lookaround"
        ) from None


def needs_listing(rules: TagRules) -> bool:
    """Whether the source's tag list is needed (False for explicit tags and pins only)."""
    return rules.has_rules


@lru_cache(maxsize=256)
def _pattern(text: str) -> re2._Regexp[str]:
    return compile_pattern(text)


@lru_cache(maxsize=256)
def _range(text: str) -> Range:
    return parse_range(text)


def _natural_key(tag: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part)
        for part in re.split(_DIGITS, tag)
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
    return any(_pattern(p).search(tag) is not None for p in patterns)


def select_tags(rules: TagRules, available: Sequence[str]) -> tuple[str, ...]:
    """Apply ``rules`` to the source's tags; see the module docstring for the order."""
    explicit = list(dict.fromkeys(rules.explicit))
    if not rules.has_rules:
        return tuple(explicit)
    picked = [
        t for t in dict.fromkeys(available) if t not in rules.explicit and len(t) <= MAX_TAG_LENGTH
    ]
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
