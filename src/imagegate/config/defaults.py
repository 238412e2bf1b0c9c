"""Where the allowlist file is looked for. A leaf module: the CLI names these in its help
without importing the loader (YAML, RE2), so that building the parser stays cheap."""

from __future__ import annotations

DEFAULT_CONFIG_FILE = "imagegate.yaml"
CONFIG_ENV = "IMAGEGATE_CONFIG"
HUB_TOKEN_ENV = "IMAGEGATE_HUB_TOKEN"  # noqa: S105 - a variable's name; also ..._FILE
