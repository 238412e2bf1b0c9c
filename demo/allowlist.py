"""The demo's allowlist: explicit tags, a regex/semver rule with an exclude, and a pin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NAMESPACE = "acme"


@dataclass(frozen=True, slots=True)
class DemoAllowlist:
    """What the demo allowlist needs to know about its world."""

    source_host: str  # the local "Docker Hub", host:port
    target_host: str  # the local "organization" registry, host:port
    state_file: str  # relative to the allowlist's directory
    pinned_tag: str
    pinned_digest: str


def render_allowlist(spec: DemoAllowlist) -> str:
    """The YAML text of the demo's ``imagegate.yaml`` (pure)."""
    src = spec.source_host
    return f"""\
# imagegate demo allowlist; every key is documented in docs/allowlist.md.
# {src} stands in for Docker Hub: against the real thing you would
# write `source: bitnami/redis` and `registry: docker.io`.
version: 1
target:
  registry: {spec.target_host}
  namespace: {NAMESPACE}
state: {spec.state_file}
images:
  # explicit tags -> {NAMESPACE}/redis
  - source: {src}/bitnami/redis
    tags: ["7.2", "7.4"]
  # rules: list upstream tags, keep 3.x.y releases, no release candidates -> {NAMESPACE}/loki
  - source: {src}/grafana/loki
    tags:
      include: ['^3\\.\\d+\\.\\d+']
      exclude: ['-rc']
      semver: '>=3.0'
      newest: 3
  # a pin: only this digest is acceptable, whatever the tag upstream says -> {NAMESPACE}/tool
  - source: {src}/someone/tool
    tags: ["{spec.pinned_tag}@{spec.pinned_digest}"]
"""


def write_allowlist(path: Path, spec: DemoAllowlist) -> Path:
    path.write_text(render_allowlist(spec))
    return path
