"""Logging setup: text on a terminal, JSON lines otherwise; secrets are always redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from imagegate.errors import redact_url

_SECRET_PATTERNS = (  # compiled on first use (re caches them): start-up, docs/benchmarks.md
    r"(?i)(authorization:\s*)(bearer|basic|jwt)\s+\S+",
    r"(?i)(\"?(?:password|secret|token|access_token|refresh_token)\"?\s*[:=]\s*\"?)[^\s\",&]+",
    r"(dckr_(?:pat|oat)_)[A-Za-z0-9_-]+",
    r"(eyJ)[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",  # JWTs
)
_STD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def redact(text: str) -> str:
    """Remove anything that looks like a secret from free text."""
    text = redact_url(text)
    for pat in _SECRET_PATTERNS:
        text = re.sub(pat, r"\1***", text)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}"
            for k, v in vars(record).items()
            if k not in _STD_ATTRS and not k.startswith("_")
        )
        line = f"{record.levelname.lower():5} {record.getMessage()}"
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def setup_logging(*, debug: bool = False, fmt: str = "auto", level: int | None = None) -> None:
    """Logs of ``imagegate`` to stderr at ``level`` (default: DEBUG with ``debug``, else
    INFO), as text on a terminal and JSON lines otherwise (``fmt``: auto, text or json)."""
    root = logging.getLogger("imagegate")
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(_RedactingFilter())
    root.addHandler(handler)
    if level is None:
        level = logging.DEBUG if debug else logging.INFO
    root.setLevel(level)
    root.propagate = False
