"""Registries for the benchmarks: the test RegistryServer with its access log turned on.

The access log lets the harness count the requests each tool made (by method) and the bytes
it read, without putting a proxy (and its CPU cost) between the tools and the registries.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.registry_server import RegistryServer

# 127.0.0.1 - - [28/Nov/2026:08:55:37 +0000] "GET /v2/a/b/manifests/1 HTTP/1.1" 200 732 "" ""
_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-)'
)


class LoggedRegistry(RegistryServer):
    """A ``docker-registry`` whose access log (one line per request) goes to its log file."""

    def config(self) -> dict[str, object]:
        cfg = super().config()
        cfg["log"] = {"level": "error", "formatter": "text", "accesslog": {"disabled": False}}
        return cfg

    def mark(self) -> int:
        """The current end of the log: pass it to :meth:`traffic_since`."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def traffic_since(self, mark: int) -> Traffic:
        """Requests logged after ``mark`` (the registry writes a line when a request ends)."""
        with self.log_path.open("rb") as fh:
            fh.seek(mark)
            text = fh.read().decode(errors="replace")
        return parse_access_log(text)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the registry process has used so far."""
        if self.pid is None:
            return 0.0
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def blob_bytes(self) -> dict[str, int]:
        """Every blob stored (digest -> size), read from the filesystem storage."""
        root = self.storage / "docker" / "registry" / "v2" / "blobs"
        out: dict[str, int] = {}
        for data in root.glob("*/*/*/data"):
            out[f"{data.parent.parent.parent.name}:{data.parent.name}"] = data.stat().st_size
        return out


@dataclass(slots=True)
class Traffic:
    """Requests by method, and the body bytes of successful blob GETs."""

    by_method: Counter[str] = field(default_factory=Counter)
    blob_get_bytes: int = 0
    blob_gets: int = 0
    manifest_gets: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_method.values())

    def methods(self) -> dict[str, int]:
        return dict(sorted(self.by_method.items()))


def parse_access_log(text: str) -> Traffic:
    """Count the requests of a distribution access log (combined log format)."""
    out = Traffic()
    for line in text.splitlines():
        m = _LINE.search(line)
        if m is None:
            continue
        method, path = m["method"], m["path"]
        out.by_method[method] += 1
        if method != "GET" or not m["status"].startswith("2"):
            continue
        size = 0 if m["size"] == "-" else int(m["size"])
        if "/blobs/" in path:
            out.blob_gets += 1
            out.blob_get_bytes += size
        elif "/manifests/" in path:
            out.manifest_gets += 1
    return out


def start_registry(base: Path) -> LoggedRegistry:
    server = LoggedRegistry(base, die_with_parent=True)
    server.start()
    return server
