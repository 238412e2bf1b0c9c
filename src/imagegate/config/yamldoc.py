"""A YAML document read with its line numbers: typed, strict access for ``imagegate.config.load``
(the file itself is read by ``imagegate.config.yamlfile``).

Every accessor raises ``ConfigError`` naming ``file:line: key.path: problem``. Strings get
``${VAR}`` / ``${VAR:-default}`` expansion (``$${`` is a literal ``${``); numbers where a
string is expected are refused, because YAML turns ``7.10`` into ``7.1``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import yaml

from imagegate.config import secrets
from imagegate.config.yamlfile import Context
from imagegate.domain.allowlist import Secret
from imagegate.errors import ConfigError

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

_TAG = "tag:yaml.org,2002:"
_VAR = r"\$\$\{|\$\{([^}]*)\}"  # compiled on first use (re caches them)
_VAR_BODY = r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?"  # re.DOTALL | re.ASCII
_CONSTRUCTOR = yaml.SafeLoader("")
MAX_INT_DIGITS = 40  # no setting needs a larger number


def close_matches(word: str, choices: list[str], cutoff: float) -> list[str]:
    """The closest of ``choices`` to a mistyped ``word`` (the "did you mean" of an error);
    difflib is imported only when an error needs it (start-up, docs/benchmarks.md)."""
    import difflib  # noqa: PLC0415

    return difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = node.tag.removeprefix(_TAG)
    value = str(node.value)
    return {
        "null": "nothing (null)",
        "bool": f"the boolean {value}",
        "int": f"the number {value}",
        "float": f"the number {value}",
        "str": f"the string {value!r}",
    }.get(kind, f"a {kind} value")


@dataclass(frozen=True, slots=True)
class Node:
    """One YAML node, with the key path that leads to it."""

    node: yaml.Node
    key: str
    ctx: Context

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, message: str) -> ConfigError:
        where = f"{self.key}: " if self.key else ""
        return ConfigError(f"{where}{message}", path=self.ctx.display, line=self.line)

    def warn(self, message: str) -> None:
        self.ctx.warnings.append(f"{self.ctx.display}:{self.line}: {self.key}: {message}")

    def path(self, base: Path) -> Path:
        """A file path: ``~`` expanded, relative to ``base`` (the allowlist's directory)."""
        return (base / Path(self.string()).expanduser()).resolve()

    def _child_key(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    # ---- kinds ---------------------------------------------------------------------------

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.node, yaml.MappingNode)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.node, yaml.SequenceNode)

    @property
    def is_string(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == _TAG + "str"

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == _TAG + "null"

    def describe(self) -> str:
        """What the node holds, for messages: 'a list', 'the number 7.10', ..."""
        return _describe(self.node)

    def _expect(self, what: str, hint: str = "") -> ConfigError:
        return self.error(f"expected {what}, got {self.describe()}{hint}")

    def mapping(self, allowed: Collection[str], required: Collection[str] = ()) -> dict[str, Node]:
        """The mapping's values by key; unknown, duplicate or missing keys are errors."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self._expect("a mapping")
        out: dict[str, Node] = {}
        for knode, vnode in self.node.value:
            kn = Node(knode, self.key, self.ctx)
            if not kn.is_string:
                raise kn._expect("a key name")
            name = str(knode.value)
            if name in out:
                raise kn.error(
                    f"duplicate key {name!r} (first on line {out[name].line}); keep only one"
                )
            if name not in allowed:
                close = close_matches(name, list(allowed), 0.6)
                hint = f"did you mean {close[0]!r}?" if close else ""
                valid = ", ".join(sorted(allowed))
                raise Node(knode, self._child_key(name), self.ctx).error(
                    f"unknown key {name!r}; {hint or 'valid keys: ' + valid}"
                )
            out[name] = Node(vnode, self._child_key(name), self.ctx)
        missing = [k for k in required if k not in out]
        if missing:
            raise self.error(f"missing required key {missing[0]!r}")
        return out

    def pairs(self) -> list[tuple[str, Node]]:
        """A mapping with free-form keys (hosts, team names); duplicates are errors."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self._expect("a mapping")
        seen: dict[str, int] = {}
        out: list[tuple[str, Node]] = []
        for knode, vnode in self.node.value:
            kn = Node(knode, self.key, self.ctx)
            if not isinstance(knode, yaml.ScalarNode) or knode.tag == _TAG + "null":
                raise kn._expect("a key name")
            name = str(knode.value)
            if name in seen:
                raise kn.error(f"duplicate key {name!r} (first on line {seen[name]}); keep one")
            seen[name] = kn.line
            out.append((name, Node(vnode, f"{self.key}.{name}", self.ctx)))
        return out

    def sequence(self) -> list[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self._expect("a list")
        return [Node(v, f"{self.key}[{i}]", self.ctx) for i, v in enumerate(self.node.value)]

    # ---- scalars -------------------------------------------------------------------------

    def string(self, *, allow_empty: bool = False) -> str:
        if not self.is_string:
            hint = ""
            if isinstance(self.node, yaml.ScalarNode) and self.node.tag != _TAG + "null":
                hint = f"; quote it: '{self.node.value}'"
            raise self._expect("a string", hint)
        value = self._expand(str(self.node.value))
        if not value and not allow_empty:
            raise self.error("must not be empty")
        return value

    def secret(self) -> Secret:
        """A secret string; written in clear (no ``${VAR}``) is allowed but warned about.

        ``${file:PATH}`` reads a mounted secret file (``imagegate.config.secrets``)."""
        raw = str(self.node.value) if self.is_string else ""
        if secrets.has_file_ref(raw):
            value = secrets.expand_secret(self, raw, Path(self.ctx.display).parent)
            if not value:
                raise self.error("must not be empty")
            return Secret(value)
        value = self.string()
        if "${" not in raw:
            self.warn(
                "this value is written in clear in the file; use a ${VARIABLE} reference instead"
            )
        return Secret(value)

    def strings(self) -> list[str]:
        """One string or a list of strings."""
        if self.is_sequence:
            return [n.string() for n in self.sequence()]
        return [self.string()]

    def integer(self, *, minimum: int | None = None, maximum: int | None = None) -> int:
        if not (isinstance(self.node, yaml.ScalarNode) and self.node.tag == _TAG + "int"):
            raise self._expect("a whole number")
        if len(str(self.node.value)) > MAX_INT_DIGITS:  # int() of it is slow or refused
            raise self.error(f"the number {str(self.node.value)[:20]}... is far too large")
        value = int(_CONSTRUCTOR.construct_yaml_int(self.node))
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}, got {value}")
        return value

    def boolean(self) -> bool:
        if not (isinstance(self.node, yaml.ScalarNode) and self.node.tag == _TAG + "bool"):
            raise self._expect("true or false")
        return bool(_CONSTRUCTOR.construct_yaml_bool(self.node))

    def parsed(self, parse: Callable[[str], T]) -> T:
        """The string parsed by ``parse``; its ``ConfigError`` is reported at this node."""
        text = self.string()
        try:
            return parse(text)
        except ConfigError as exc:
            raise self.error(exc.detail) from None

    def choice(self, enum: type[E]) -> E:
        value = self.string()
        try:
            return enum(value)
        except ValueError:
            names = [str(m.value) for m in enum]
            close = close_matches(value, names, 0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.error(
                f"invalid value {value!r}: expected one of {', '.join(names)}{hint}"
            ) from None

    def expand(self, raw: str) -> str:
        """``raw`` with ``${VAR}`` references expanded (errors name this node)."""
        return self._expand(raw)

    def _expand(self, raw: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return "${"
            body = re.fullmatch(_VAR_BODY, m.group(1), re.DOTALL | re.ASCII)
            if not body and m.group(1).startswith("file:"):
                raise self.error(
                    "${file:PATH} is read only in secret fields (target.hub.token, "
                    "target.hub.teams_token, registries.*.password, notify.webhooks[].url)"
                )
            if not body:
                raise self.error(
                    f"invalid variable reference {m.group(0)!r}: write ${{NAME}} or "
                    "${NAME:-default} (and $${ for a literal '${')"
                )
            name, default = body.group(1), body.group(2)
            value = self.ctx.env.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    raise self.error(
                        f"environment variable {name} is not set; export it or write "
                        f"${{{name}:-default}}"
                    )
                return default
            return value

        return re.sub(_VAR, sub, raw)
