"""Parse ``WWW-Authenticate`` headers into :class:`Challenge` values (pure, RFC 7235)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: MappingProxyType[str, str] = MappingProxyType({})
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_SCHEME_RE = re.compile(rf"\s*({_TCHARS})(?=\s|,|$)")
_PARAM_RE = re.compile(rf"\s*({_TCHARS})\s*=\s*({_QUOTED}|{_TCHARS})\s*")
_TOKEN68_RE = re.compile(r"\s*([A-Za-z0-9._~+/-]+=*)\s*(?=,|$)")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: ``Bearer realm="...",service="...",scope="..."``."""

    scheme: str  # lower-cased: "basic", "bearer", ...
    params: MappingProxyType[str, str] = field(default_factory=lambda: _EMPTY, compare=False)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The ``scope`` parameter split on spaces (Docker Hub sends several at once)."""
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> str:
        return self.params.get("error", "")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_challenges(header: str) -> tuple[Challenge, ...]:
    """Parse a ``WWW-Authenticate`` value; unparseable parts are skipped, never raised."""
    out: list[Challenge] = []
    pos = 0
    n = len(header)
    while pos < n:
        while pos < n and header[pos] in " ,\t":
            pos += 1
        m = _SCHEME_RE.match(header, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        t68 = _TOKEN68_RE.match(header, pos)
        if t68 and not _PARAM_RE.match(header, pos):
            pos = t68.end()
        else:
            while True:
                p = _PARAM_RE.match(header, pos)
                if not p:
                    break
                params[p.group(1).lower()] = _unquote(p.group(2))
                pos = p.end()
                if pos < n and header[pos] == ",":
                    # another parameter, or the next challenge's scheme
                    nxt = _PARAM_RE.match(header, pos + 1)
                    if not nxt:
                        pos += 1
                        break
                    pos += 1
                else:
                    break
        out.append(Challenge(scheme, MappingProxyType(params)))
        # resync on garbage so the loop always advances
        if pos < n and header[pos] not in " ,\t" and not _SCHEME_RE.match(header, pos):
            nxt_comma = header.find(",", pos)
            pos = n if nxt_comma < 0 else nxt_comma + 1
    return tuple(out)


def pick_challenge(challenges: tuple[Challenge, ...]) -> Challenge | None:
    """Prefer Bearer over Basic; other schemes are not supported."""
    for scheme in ("bearer", "basic"):
        for c in challenges:
            if c.scheme == scheme:
                return c
    return None
