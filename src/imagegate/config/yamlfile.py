"""Reading the allowlist's YAML file within limits: a regular UTF-8 file of bounded size,
nesting bounded before composing, and syntax errors as one-line ``ConfigError``s with a
hint. ``imagegate.config.yamldoc`` gives typed access to the composed nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from imagegate.errors import ConfigError
from imagegate.files import FileTooLarge, NotARegularFile, read_bounded


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
MAX_DEPTH = 64  # the allowlist nests 5 deep; YAML nested thousands deep exhausts the stack


def read_text(path: Path, display: str) -> str:
    """The file's text: a regular file of at most MAX_FILE_BYTES, UTF-8; else ConfigError.

    ``/dev/zero``, a FIFO or a huge file is refused before it is read (reading it would
    never end, or fill the memory).
    """
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except NotARegularFile as exc:
        raise ConfigError(
            f"not a regular file ({exc.kind}); pass the allowlist file with -c FILE", path=display
        ) from None
    except FileTooLarge:
        raise ConfigError(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; an allowlist is "
            "much smaller: check that -c names the right file",
            path=display,
        ) from None
    except FileNotFoundError:
        raise ConfigError(
            "file not found; pass the allowlist with -c FILE or create imagegate.yaml",
            path=display,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=display) from None
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
