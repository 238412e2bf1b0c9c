"""A YAML document read with its line numbers: typed, strict access for ``imagegate.config.load``.

Every accessor raises ``ConfigError`` naming ``file:line: key.path: problem``. Strings get
``${VAR}`` / ``${VAR:-default}`` expansion (``$${`` is a literal ``${``); numbers where a
string is expected are refused, because YAML turns ``7.10`` into ``7.1``.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import yaml

from imagegate.config import secrets
from imagegate.domain.allowlist import Secret
from imagegate.domain.files import file_kind
from imagegate.errors import ConfigError

E = TypeVar("E", bound=StrEnum)

_TAG = "tag:yaml.org,2002:"
_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL | re.ASCII)
_CONSTRUCTOR = yaml.SafeLoader("")


@dataclass
class Context:
    """What every node of one document shares: the file name shown, the environment."""

    display: str
    env: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)


def yaml_hint(problem: str, line: str) -> str:
    """What to do about a YAML syntax error, from the problem and the offending line."""
    if "\t" in problem or "\t" in line[: len(line) - len(line.lstrip())]:
        return "; indent with spaces, not tabs"
    if "${" in line and ("{" in line.replace("${", "") or "[" in line):
        return '; inside {...} or [...] quote ${VARIABLE} references: "${NAME}"'
    if "mapping values" in problem:
        return "; check the indentation of this line and the one above, or quote a value with ': '"
    if "block end" in problem or "expected ':'" in problem:
        return "; check the indentation of this line and the one above (spaces, same depth)"
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        return "; a {...} or [...] above is not closed, or lacks a comma"
    return ""


MAX_FILE_BYTES = 4 * 1024 * 1024  # an allowlist of thousands of images is far smaller
MAX_INT_DIGITS = 40  # no setting needs a larger number
MAX_DEPTH = 64  # the allowlist nests 5 deep; YAML nested thousands deep exhausts the stack


def read_text(path: Path, display: str) -> str:
    """The file's text: a regular file of at most MAX_FILE_BYTES, UTF-8; else ConfigError.

    ``/dev/zero``, a FIFO or a huge file is refused before it is read (reading it would
    never end, or fill the memory).
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files)
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(
                    f"not a regular file ({file_kind(info.st_mode)}); pass the allowlist file "
                    "with -c FILE",
                    path=display,
                )
            data = f.read(MAX_FILE_BYTES + 1)  # the size may change under us: read at most this
    except FileNotFoundError:
        raise ConfigError(
            "file not found; pass the allowlist with -c FILE or create imagegate.yaml",
            path=display,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=display) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; an allowlist is "
            "much smaller: check that -c names the right file",
            path=display,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"cannot read the file: it is not UTF-8 text (byte 0x{data[exc.start]:02x})",
            path=display,
            line=line,
        ) from None


def _check_depth(text: str, display: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH before composing it (the composer recurses)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"invalid YAML: nested more than {MAX_DEPTH} levels deep; an allowlist "
                    "needs a handful",
                    path=display,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def compose_file(path: Path, ctx: Context) -> yaml.Node:
    """Read and compose a YAML file; unreadable files and syntax errors are one-line errors."""
    text = read_text(path, ctx.display)
    try:
        _check_depth(text, ctx.display)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        lines = text.splitlines()
        # the mark may sit at the end of the stream, one line past the last one
        source = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
        hint = yaml_hint(problem, source)
        raise ConfigError(f"invalid YAML: {problem}{hint}", path=ctx.display, line=line) from None
    except yaml.reader.ReaderError as exc:  # a control character such as NUL
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise ConfigError(
            f"invalid YAML: the control character U+{ord(char):04X} is not allowed; remove it "
            "(is this a text file?)",
            path=ctx.display,
            line=line,
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"invalid YAML: {first}", path=ctx.display) from None
    if root is None:
        raise ConfigError("the file is empty; start it with 'version: 1'", path=ctx.display)
    return root


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
                close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
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

    def choice(self, enum: type[E]) -> E:
        value = self.string()
        try:
            return enum(value)
        except ValueError:
            names = [str(m.value) for m in enum]
            close = difflib.get_close_matches(value, names, n=1, cutoff=0.5)
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
            body = _VAR_BODY.fullmatch(m.group(1))
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

        return _VAR.sub(sub, raw)
