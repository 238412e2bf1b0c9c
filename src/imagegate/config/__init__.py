"""Loading the allowlist file: YAML with line numbers -> ``domain.allowlist.Config``."""

from __future__ import annotations

from imagegate.config.load import load_config

__all__ = ["load_config"]
