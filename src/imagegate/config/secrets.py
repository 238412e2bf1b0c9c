"""Secrets read from files: ``${file:PATH}`` in a secret-bearing field of the allowlist.

CI systems and Kubernetes hand secrets over as files (``/run/secrets/hub-token``, a mounted
Secret volume). ``token: ${file:/run/secrets/hub-token}`` reads that file when the allowlist is
loaded: at most :data:`MAX_SECRET_BYTES`, UTF-8, one trailing newline stripped (``echo`` and
``kubectl create secret --from-file`` add one). A relative path is relative to the allowlist's
directory. A missing, unreadable, oversized or empty file is a one-line ``ConfigError`` naming
``file:line: key`` and the path, never the content. The rest of the value is expanded as any
string (``${VAR}``, ``$${``); a file's content is never expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from imagegate.errors import ConfigError
from imagegate.files import FileTooLarge, NotARegularFile, read_bounded

if TYPE_CHECKING:
    from imagegate.config.yamldoc import Node

MAX_SECRET_BYTES = 64 * 1024  # a token, a password or a webhook URL is far smaller
FILE_REF = "${file:"
_REF = r"\$\$\{|\$\{file:([^}]*)\}"  # compiled on first use (re caches it)


PLACEHOLDER = "unset"
_missing: ContextVar[list[str] | None] = ContextVar("imagegate_missing_secret_files", default=None)


class SecretFileError(ConfigError):
    """A secret file that cannot be used; the message names the path, never the content."""


@contextmanager
def placeholders_for_missing_files() -> Iterator[list[str]]:
    """Within: a secret file that does not exist reads as a placeholder and its path is
    appended to the list yielded (``imagegate validate``: a fork's CI has no secrets)."""
    missing: list[str] = []
    token = _missing.set(missing)
    try:
        yield missing
    finally:
        _missing.reset(token)


def has_file_ref(raw: str) -> bool:
    return any(m.group(0) != "$${" for m in re.finditer(_REF, raw))


def read_secret_file(path: Path, *, limit: int = MAX_SECRET_BYTES) -> str:
    """The file's text without one trailing newline; ``SecretFileError`` says what is wrong."""
    try:
        data = read_bounded(path, limit)
    except NotARegularFile as exc:
        raise SecretFileError(f"secret file {path} is not a regular file ({exc.kind})") from None
    except FileTooLarge:
        raise SecretFileError(
            f"secret file {path} is larger than {limit // 1024} KiB; is it the right file?"
        ) from None
    except FileNotFoundError:
        raise SecretFileError(
            f"secret file {path} does not exist; mount the secret there or fix the path"
        ) from None
    except IsADirectoryError:
        raise SecretFileError(
            f"secret file {path} is not a regular file (a directory); name the file in it"
        ) from None
    except OSError as exc:
        raise SecretFileError(
            f"cannot read secret file {path}: {exc.strerror or type(exc).__name__}; "
            "check its permissions"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretFileError(f"secret file {path} is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not text:
        raise SecretFileError(f"secret file {path} is empty; write the secret into it")
    return text


def _resolve(path_text: str, base: Path) -> Path:
    path = Path(path_text).expanduser()
    return path if path.is_absolute() else base / path


def expand_secret(node: Node, raw: str, base: Path) -> str:
    """``raw`` with each ``${file:PATH}`` replaced by the file's secret and the text between
    expanded as any string (``${VAR}``); errors name the node's ``file:line: key``."""
    out: list[str] = []
    pos = 0
    for m in re.finditer(_REF, raw):
        out.append(node.expand(raw[pos : m.start()]))
        pos = m.end()
        if m.group(0) == "$${":
            out.append("${")
            continue
        path_text = m.group(1).strip()  # taken literally: no ${VAR} inside
        if not path_text:
            raise node.error("${file:PATH} needs a path, e.g. ${file:/run/secrets/hub-token}")
        path = _resolve(path_text, base)
        missing = _missing.get()
        if missing is not None and not path.exists():
            missing.append(str(path))
            out.append(PLACEHOLDER)
            continue
        try:
            out.append(read_secret_file(path))
        except SecretFileError as exc:
            raise node.error(exc.detail) from None
    out.append(node.expand(raw[pos:]))
    return "".join(out)


def file_from_env(env: Mapping[str, str], name: str) -> str | None:
    """``$NAME``, else the content of the file named by ``$NAME_FILE`` (the ``*_FILE``
    convention of Docker and Kubernetes images); None when neither is set. ``ConfigError``
    names the variable when the file cannot be used."""
    value = env.get(name)
    if value:
        return value
    file_name = env.get(f"{name}_FILE")
    if not file_name:
        return None
    try:
        return read_secret_file(Path(file_name).expanduser())
    except SecretFileError as exc:
        raise ConfigError(f"{name}_FILE: {exc.detail}") from None
