"""Semantic versions of image tags and npm-style version ranges (pure, no I/O).

Tags are loose: an optional leading ``v``, 1 to 3 numeric components (missing ones are 0),
an optional ``-pre.release`` and an optional ``+build`` (ignored). ``7.2`` is ``7.2.0``.

Ranges follow npm's grammar: comparators ``> >= < <= =``, ``^`` and ``~``, x-ranges (``3.x``,
``3.*``, ``3``, ``*``), hyphen ranges (``1.2 - 2``), a space means AND and ``||`` means OR.
A pre-release version matches only when a comparator of the same set names a pre-release on
the same ``major.minor.patch`` (npm's rule), unless ``include_prerelease`` is asked for.

A comparator needs a number: ``>=x`` is refused rather than silently meaning "anything".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from imagegate.errors import ConfigError

# Compiled on first use (re caches them), not at import: start-up (docs/benchmarks.md).
_TAG = (
    r"^v?(0|[0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)
_PARTIAL = (
    r"^v?([0-9]+|[xX*])(?:\.([0-9]+|[xX*]))?(?:\.([0-9]+|[xX*]))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)
_OPS = ("<=", ">=", "<", ">", "=", "^", "~")
_WILD = frozenset({"x", "X", "*"})

PreId = int | str


def _pre_key(pre: tuple[PreId, ...]) -> tuple[tuple[int, int, str], ...]:
    # numeric identifiers sort before alphanumeric ones, each among themselves
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in pre)


@dataclass(frozen=True, slots=True)
class Version:
    """``major.minor.patch[-prerelease]``; ordered as semver 2.0 says."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[PreId, ...] = ()

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def sort_key(self) -> tuple[tuple[int, int, int], int, tuple[tuple[int, int, str], ...]]:
        # a release sorts after all its pre-releases
        return (self.core, 0 if self.prerelease else 1, _pre_key(self.prerelease))

    def __lt__(self, other: Version) -> bool:
        return self.sort_key() < other.sort_key()

    def __le__(self, other: Version) -> bool:
        return self.sort_key() <= other.sort_key()

    def __str__(self) -> str:
        pre = "-" + ".".join(str(p) for p in self.prerelease) if self.prerelease else ""
        return f"{self.major}.{self.minor}.{self.patch}{pre}"


def _prerelease(text: str | None) -> tuple[PreId, ...]:
    if not text:
        return ()
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


@lru_cache(maxsize=8192)
def parse_version(tag: str) -> Version | None:
    """The version a tag names, or None when the tag is not version-like."""
    m = re.match(_TAG, tag)
    if not m:
        return None
    return Version(
        int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), _prerelease(m.group(4))
    )


@dataclass(frozen=True, slots=True)
class Comparator:
    op: str  # one of < <= > >= =
    version: Version
    named_prerelease: bool = False  # written by the user (not an internal "-0" bound)

    def test(self, v: Version) -> bool:
        a, b = v.sort_key(), self.version.sort_key()
        match self.op:
            case "<":
                return a < b
            case "<=":
                return a <= b
            case ">":
                return a > b
            case ">=":
                return a >= b
            case _:
                return a == b


_ZERO = (0,)


@dataclass(frozen=True, slots=True)
class Range:
    """A parsed range: OR of comparator sets (each an AND). An empty set matches anything."""

    text: str
    sets: tuple[tuple[Comparator, ...], ...]

    def contains(self, v: Version, *, include_prerelease: bool = False) -> bool:
        return any(_set_ok(s, v, include_prerelease) for s in self.sets)


def _set_ok(comps: tuple[Comparator, ...], v: Version, include_prerelease: bool) -> bool:
    if not all(c.test(v) for c in comps):
        return False
    if not v.prerelease or include_prerelease:
        return True
    return any(c.named_prerelease and c.version.core == v.core for c in comps)


def _fail(text: str, why: str) -> ConfigError:
    return ConfigError(f"invalid range {text!r} ({why})")


@dataclass(frozen=True, slots=True)
class _Partial:
    nums: tuple[int, ...]  # the numeric components given before the first wildcard
    pre: tuple[PreId, ...]

    def floor(self) -> Version:
        n = (*self.nums, 0, 0, 0)
        return Version(n[0], n[1], n[2], self.pre if len(self.nums) == 3 else ())

    def bump(self, at: int) -> Version:
        """The first version above the component ``at`` (0 major, 1 minor, 2 patch), as -0."""
        n = [*self.nums, 0, 0, 0][:3]
        n[at] += 1
        for i in range(at + 1, 3):
            n[i] = 0
        return Version(n[0], n[1], n[2], _ZERO)


def _partial(text: str, whole: str) -> _Partial:
    if len(text) > 128:  # as long as a tag can be; int() of thousands of digits is refused
        raise _fail(whole, f"{text[:20]!r}... is longer than any tag (128 characters)")
    m = re.match(_PARTIAL, text)
    if not m:
        raise _fail(whole, f"{text!r} is not a version")
    nums: list[int] = []
    for g in m.group(1, 2, 3):
        if g is None or g in _WILD:
            break
        nums.append(int(g))
    if m.group(4) and len(nums) < 3:
        raise _fail(whole, f"a pre-release needs a full version, not {text!r}")
    return _Partial(tuple(nums), _prerelease(m.group(4)))


def _ge(v: Version) -> Comparator:
    return Comparator(">=", v, bool(v.prerelease))


def _lt(v: Version, *, named: bool = False) -> Comparator:
    return Comparator("<", v, named)


def _expand(op: str, p: _Partial, whole: str) -> tuple[Comparator, ...]:
    n = len(p.nums)
    if n == 0:
        if op:
            raise _fail(whole, f"'{op}' needs a version number, not a wildcard")
        return ()
    if op in ("", "="):
        if n == 3:
            return (Comparator("=", p.floor(), bool(p.pre)),)
        return (_ge(p.floor()), _lt(p.bump(n - 1)))
    if op == "^":
        # the first non-zero component may not change; ^0.0 -> <0.1.0, ^0.0.3 -> <0.0.4
        at = next((i for i, x in enumerate(p.nums) if x != 0), n - 1)
        return (_ge(p.floor()), _lt(p.bump(at)))
    if op == "~":
        return (_ge(p.floor()), _lt(p.bump(0 if n == 1 else 1)))
    if op == ">":
        if n == 3:
            return (Comparator(">", p.floor(), bool(p.pre)),)
        return (_ge(replace(p.bump(n - 1), prerelease=())),)
    if op == ">=":
        return (_ge(p.floor()),)
    if op == "<":
        if n == 3:
            return (_lt(p.floor(), named=bool(p.pre)),)
        return (_lt(replace(p.floor(), prerelease=_ZERO)),)
    # "<="
    if n == 3:
        return (Comparator("<=", p.floor(), bool(p.pre)),)
    return (_lt(p.bump(n - 1)),)


def _comparator_set(text: str, whole: str) -> tuple[Comparator, ...]:
    text = text.strip()
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        lo, hi = _partial(hyphen.group(1), whole), _partial(hyphen.group(2), whole)
        out: list[Comparator] = [_ge(lo.floor())] if lo.nums else []
        if len(hi.nums) == 3:
            out.append(Comparator("<=", hi.floor(), bool(hi.pre)))
        elif hi.nums:
            out.append(_lt(hi.bump(len(hi.nums) - 1)))
        return tuple(out)
    # "> = 1.2" is written ">=1.2" by everyone; glue an operator to the version after it
    tokens = re.sub(r"(<=|>=|<|>|=|\^|~)\s+", r"\1", text).split()
    comps: list[Comparator] = []
    for tok in tokens:
        op = next((o for o in _OPS if tok.startswith(o)), "")
        comps.extend(_expand(op, _partial(tok[len(op) :], whole), whole))
    return tuple(comps)


def parse_range(text: str) -> Range:
    """Parse an npm-style range; raises ConfigError (no location) when it is invalid."""
    if not text.strip():
        raise _fail(text, "empty; write '*' to accept every version")
    parts = text.split("||")
    sets = tuple(_comparator_set(part, text) for part in parts)
    if any(not part.strip() for part in parts) and len(parts) > 1:
        raise _fail(text, "an '||' alternative is empty")
    return Range(text, sets)
