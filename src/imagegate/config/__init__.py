"""Loading the allowlist file: YAML with line numbers -> ``domain.allowlist.Config``.

``load_config`` lives in :mod:`imagegate.config.load`; it is resolved on first use here, so
that importing a light submodule (``config.defaults``) does not import the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imagegate.config.load import load_config

__all__ = ["load_config"]


def __getattr__(name: str) -> Any:
    if name == "load_config":
        from imagegate.config.load import load_config  # noqa: PLC0415 - on first use

        return load_config
    raise AttributeError(f"module 'imagegate.config' has no attribute {name!r}")
