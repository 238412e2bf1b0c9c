"""``registries:`` of the allowlist: per-host connection settings (TLS, credentials,
concurrency, time limits)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from imagegate.config.durations import duration
from imagegate.config.target import registry_host
from imagegate.config.yamldoc import Node
from imagegate.domain.allowlist import (
    REQUEST_TIMEOUT_RANGE,
    STALL_MIN_KIB_RANGE,
    STALL_WINDOW_RANGE,
    RegistrySettingsEntry,
)

REGISTRY_KEYS = frozenset(
    {"insecure", "ca_file", "username", "password", "max_concurrency", "rate_limit_floor",
     "request_timeout", "stall_window", "stall_min_kib"}
)  # fmt: skip


def parse_registries(n: Node, base: Path) -> dict[str, RegistrySettingsEntry]:
    out: dict[str, RegistrySettingsEntry] = {}
    for name, value in n.pairs():
        host = registry_host(name, value)
        if host in out:
            raise value.error(f"{name!r} is the same registry as another entry ({host})")
        m = value.mapping(REGISTRY_KEYS)
        if ("username" in m) != ("password" in m):
            raise value.error("set both 'username' and 'password', or neither")
        out[host] = RegistrySettingsEntry(
            host=host,
            insecure=m["insecure"].boolean() if "insecure" in m else False,
            ca_file=_ca_file(m["ca_file"], base) if "ca_file" in m else None,
            username=m["username"].string() if "username" in m else None,
            password=m["password"].secret() if "password" in m else None,
            max_concurrency=m["max_concurrency"].integer(minimum=1, maximum=256)
            if "max_concurrency" in m
            else None,
            rate_limit_floor=m["rate_limit_floor"].integer(minimum=0)
            if "rate_limit_floor" in m
            else None,
            request_timeout=_seconds(m.get("request_timeout"), REQUEST_TIMEOUT_RANGE),
            stall_window=_seconds(m.get("stall_window"), STALL_WINDOW_RANGE),
            stall_min_kib=m["stall_min_kib"].integer(
                minimum=STALL_MIN_KIB_RANGE[0], maximum=STALL_MIN_KIB_RANGE[1]
            )
            if "stall_min_kib" in m
            else None,
        )
    return out


def _ca_file(n: Node, base: Path) -> Path:
    """A CA bundle that exists and can be read now, not only when the first run connects."""
    path = n.path(base)
    try:
        with path.open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise n.error(f"{path} is not a regular file; give the path of a PEM bundle")
    except FileNotFoundError:
        raise n.error(
            f"the CA file {path} does not exist; give the path of a PEM bundle "
            "(relative paths are relative to this file's directory)"
        ) from None
    except OSError as exc:
        raise n.error(f"cannot read the CA file {path}: {exc.strerror or exc}") from None
    return path


def _seconds(n: Node | None, bounds: tuple[float, float]) -> float | None:
    """A registry time limit (a duration like 30s or 2m) within ``bounds`` seconds."""
    if n is None:
        return None
    seconds = duration(n, allow_zero=False).total_seconds()
    low, high = bounds
    if not low <= seconds <= high:
        raise n.error(f"must be between {low:g}s and {high:g}s, not {n.string()!r}")
    return seconds
