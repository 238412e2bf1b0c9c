"""PURE helpers for the Docker Hub wire format: error bodies, rate-limit headers, JWT expiry.

Retry-After / X-Retry-After are read by :func:`imagegate.retry.retry_after`.

Facts are from ``reference/docker-hub-api.md`` (cited as §n).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_ERROR_TEXT = 300  # characters of an error body kept in a message


@dataclass(frozen=True, slots=True)
class HubRateLimit:
    """``X-RateLimit-*`` of the Hub API (§7): requests per minute, remaining, reset time."""

    limit: int | None
    remaining: int | None
    reset: float | None  # unix timestamp

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> HubRateLimit | None:
        values = [_number(headers.get(f"X-RateLimit-{k}")) for k in ("Limit", "Remaining", "Reset")]
        if all(v is None for v in values):
            return None
        limit, remaining, reset = values
        return cls(
            limit=None if limit is None else int(limit),
            remaining=None if remaining is None else int(remaining),
            reset=reset,
        )


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def error_text(body: object, fallback: str) -> str:
    """The human message of a Hub error body.

    §9 "Error bodies": three shapes coexist; read ``message`` first, then ``detail``
    (as hub-tool's extractError does), then the ValueError shape ``{fields, text}``.
    """
    if isinstance(body, Mapping):
        for key in ("message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return _clip(value.strip())
        text = body.get("text")
        fields = body.get("fields")
        parts: list[str] = []
        if isinstance(text, str) and text.strip():
            parts.append(text.strip())
        if isinstance(fields, Mapping):
            for name, problems in sorted(fields.items()):
                if isinstance(problems, list):
                    detail = " ".join(str(p) for p in problems)
                else:
                    detail = str(problems)
                parts.append(f"{name}: {detail}")
        if parts:
            return _clip("; ".join(parts))
    if isinstance(body, str) and body.strip() and not body.lstrip().startswith("<"):
        return _clip(body.strip())
    return fallback


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"


def jwt_claims(token: str) -> dict[str, object]:
    """The claims of a JWT, read WITHOUT verifying the signature (§1, as S3 does).

    Only used to know when to log in again and what scope a PAT has; the server remains
    the judge of validity. Never log the token or its claims' secrets.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unverified), or None."""
    exp = jwt_claims(token).get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def page_results(body: object) -> tuple[list[object], str | None]:
    """Split a page (§9: ``{count|total, next, previous, results}``) into items and next URL.

    A bare JSON array is accepted as a single page (§4: legacy clients see arrays).
    """
    if isinstance(body, list):
        return body, None
    if isinstance(body, Mapping):
        results = body.get("results")
        nxt = body.get("next")
        return (
            list(results) if isinstance(results, list) else [],
            nxt if isinstance(nxt, str) and nxt else None,
        )
    return [], None
