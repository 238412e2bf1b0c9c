"""Hub wire format: the three error shapes, Retry-After kinds, JWT exp, pages, kinds."""

from __future__ import annotations

import base64
import json

import pytest

from imagegate.hub.models import CredentialKind
from imagegate.hub.wire import (
    HubRateLimit,
    error_text,
    jwt_expiry,
    page_results,
)

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"detail": "No such organization"}, "No such organization"),
        ({"message": "permission denied", "errinfo": None}, "permission denied"),
        ({"message": "unauthorized", "detail": "ignored"}, "unauthorized"),
        (
            {"message": "", "detail": "detail wins when message empty"},
            "detail wins when message empty",
        ),
        (
            {
                "fields": {"ordering": ["Invalid ordering value."]},
                "text": "Invalid ordering value",
            },
            "Invalid ordering value; ordering: Invalid ordering value.",
        ),
        ({"fields": {"b": "two", "a": ["one", "uno"]}}, "a: one uno; b: two"),
        ("Too Many Requests", "Too Many Requests"),
        ("<html>bad gateway</html>", "fallback"),
        (None, "fallback"),
        ({"detail": "Rate limit exceeded", "error": False}, "Rate limit exceeded"),
        ({"unrelated": 1}, "fallback"),
    ],
)
def test_error_text(body, expected):
    assert error_text(body, "fallback") == expected


def test_error_text_is_clipped_to_one_line():
    text = error_text({"detail": "a\nb " + "x" * 1000}, "f")
    assert "\n" not in text and len(text) <= 300 and text.endswith("…")


def _jwt(claims):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'HS256'})}.{enc(claims)}.sig"


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (_jwt({"exp": 1_700_000_600, "iat": 1_700_000_000}), 1_700_000_600.0),
        (_jwt({"iat": 1}), None),
        (_jwt({"exp": "soon"}), None),
        (_jwt({"exp": True}), None),
        ("not-a-jwt", None),
        ("a.!!!.c", None),
    ],
)
def test_jwt_expiry(token, expected):
    assert jwt_expiry(token) == expected


def test_page_results_shapes():
    assert page_results({"count": 2, "next": "http://h/x?page=2", "results": [1, 2]}) == (
        [1, 2],
        "http://h/x?page=2",
    )
    assert page_results({"total": 0, "next": None, "results": []}) == ([], None)
    assert page_results([{"a": 1}]) == ([{"a": 1}], None)
    assert page_results("junk") == ([], None)


def test_rate_limit_headers():
    rl = HubRateLimit.from_headers(
        {"X-RateLimit-Limit": "180", "X-RateLimit-Remaining": "179", "X-RateLimit-Reset": "17"}
    )
    assert rl == HubRateLimit(180, 179, 17.0)
    assert HubRateLimit.from_headers({}) is None


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        ("dckr_pat_abc", CredentialKind.PAT),
        ("dckr_oat_abc", CredentialKind.OAT),
        ("hunter2", CredentialKind.PASSWORD),
        ("DCKR_PAT_abc", CredentialKind.PASSWORD),
    ],
)
def test_credential_kind(secret, kind):
    assert CredentialKind.detect(secret) is kind
