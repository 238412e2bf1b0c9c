"""Turn a registry error response into the typed error from ``imagegate.errors`` (pure)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from imagegate.errors import (
    DeniedError,
    Diagnostic,
    NotFoundError,
    RateLimitedError,
    RegistryResponseError,
    redact_url,
)
from imagegate.retry import retry_after as retry_after_of

MAX_ERROR_BODY = 64 * 1024  # bytes of an error body worth reading

_NOT_FOUND_CODES = frozenset(
    {"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
)
_DENIED_CODES = frozenset({"DENIED", "UNAUTHORIZED"})


def parse_diagnostics(body: bytes) -> tuple[Diagnostic, ...]:
    """``{"errors": [{"code", "message", "detail"}]}``; anything else gives ()."""
    try:
        doc = json.loads(body[:MAX_ERROR_BODY])
    except (ValueError, UnicodeDecodeError):
        return ()
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ()
    return tuple(
        Diagnostic(str(e.get("code") or "UNKNOWN"), str(e.get("message") or ""), e.get("detail"))
        for e in errors
        if isinstance(e, dict)
    )


def _summary(diagnostics: tuple[Diagnostic, ...], body: bytes) -> str:
    if diagnostics:
        return "; ".join(f"{d.code}: {d.message}" if d.message else d.code for d in diagnostics[:3])
    text = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    return text if text and text.isprintable() else "no error details"


def response_error(
    *,
    status: int,
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    what: str,
    now: float | None = None,
) -> RegistryResponseError:
    """The typed error for an error response. ``what`` names the object (``manifest x``)."""
    diags = parse_diagnostics(body)
    codes = {d.code for d in diags}
    where = f"{method} {redact_url(url)}"
    detail = _summary(diags, body)
    retry_after = retry_after_of(headers, time.time() if now is None else now)
    kw: dict[str, object] = {
        "status": status,
        "method": method,
        "url": url,
        "diagnostics": diags,
        "retry_after": retry_after,  # 503 may carry one too (RFC 9110 §10.2.3)
    }
    if "NAME_UNKNOWN" in codes:  # the repository itself (a tag list, a manifest GET)
        return NotFoundError(
            f"{what}: the repository does not exist or you have no access (HTTP {status}, "
            f"{detail}); check the repository name [{where}]",
            **kw,  # type: ignore[arg-type]
        )
    if status == 404 or codes & _NOT_FOUND_CODES:
        return NotFoundError(f"{what} not found (HTTP {status}, {detail}) [{where}]", **kw)  # type: ignore[arg-type]
    if status == 429 or "TOOMANYREQUESTS" in codes:
        hint = f"; retry after {retry_after:.0f}s" if retry_after is not None else ""
        return RateLimitedError(
            f"{what}: rate limited by the registry (HTTP {status}, {detail}){hint}; wait, "
            f"or authenticate to get a higher limit [{where}]",
            **kw,  # type: ignore[arg-type]
        )
    if status == 403 or codes & _DENIED_CODES:
        return DeniedError(
            f"{what}: access denied (HTTP {status}, {detail}); check that the account has "
            f"permission for this repository [{where}]",
            **kw,  # type: ignore[arg-type]
        )
    return RegistryResponseError(
        f"{what}: registry answered HTTP {status} ({detail}) [{where}]",
        **kw,  # type: ignore[arg-type]
    )
