"""HTTP helpers of the Docker Hub double: HS256 JWTs, the three error body shapes, pagination.

Sections (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

MAX_PAGE_SIZE = 100  # §9 Pagination: page_size is at most 100


class HubHttpError(Exception):
    """Raised by a handler; the middleware turns it into a JSON response."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = dict(body)


# §9 Error bodies: three shapes coexist.
def detail(status: int, text: str) -> HubHttpError:
    """Shape 1: ``{"detail": "..."}``."""
    return HubHttpError(status, {"detail": text})


def message(status: int, text: str, errinfo: Mapping[str, Any] | None = None) -> HubHttpError:
    """Shape 2: ``{"message": "...", "errinfo": {...}}``."""
    return HubHttpError(status, {"message": text, "errinfo": dict(errinfo or {})})


def value_error(fields: Mapping[str, Sequence[str]], text: str) -> HubHttpError:
    """Shape 3 (ValueError, 400): ``{"fields": {...}, "text": "..."}``."""
    return HubHttpError(400, {"fields": {k: list(v) for k, v in fields.items()}, "text": text})


def unauthorized() -> HubHttpError:
    # §1: a raw PAT (or anything unknown) as a bearer token.
    return message(401, "unauthorized")


def forbidden(text: str = "permission denied") -> HubHttpError:
    return message(403, text)


def not_found(text: str = "not found") -> HubHttpError:
    return message(404, text)


# ---- JWT (HS256: clients read `exp` without verifying, §1 "Caching the token") -------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(claims: Mapping[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


def jwt_decode(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims when the signature verifies, else None (expiry is the caller's business)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        want = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(want, _unb64(parts[2])):
            return None
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


# ---- request parsing -------------------------------------------------------------------------


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body, or a ValueError-shaped 400."""
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise value_error({"body": ["Invalid JSON."]}, "Invalid JSON body") from None
    if not isinstance(body, dict):
        raise value_error({"body": ["Expected a JSON object."]}, "Invalid JSON body")
    return body


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise value_error({name: ["A valid integer is required."]}, f"Invalid {name}") from None
    if not low <= value <= high:
        raise value_error(
            {name: [f"Ensure this value is between {low} and {high}."]}, f"Invalid {name}"
        )
    return value


def paginate(
    request: web.Request, base_url: str, items: Sequence[Any], *, count_key: str = "count"
) -> dict[str, Any]:
    """§9 Pagination: {count, next, previous, results}; absolute links built from the server's
    own base URL; page beyond the end -> 404; page 1 with no results -> 200 and []."""
    page = int_param(request, "page", 1, 1, 10**6)
    size = int_param(request, "page_size", 10, 1, MAX_PAGE_SIZE)
    start = (page - 1) * size
    if page > 1 and start >= len(items):
        raise not_found("page not found")

    def link(n: int) -> str:
        query = dict(request.query)
        query.update(page=str(n), page_size=str(size))
        return f"{base_url}{request.path}?{urlencode(query)}"

    return {
        count_key: len(items),
        "next": link(page + 1) if start + size < len(items) else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": list(items[start : start + size]),
    }


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
