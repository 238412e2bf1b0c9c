"""Auth flow without sockets: scope merging, token cache keys, expiry, forced refresh."""

from __future__ import annotations

import asyncio
import base64

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from imagegate.errors import RegistryAuthError
from imagegate.registry.auth import (
    Authenticator,
    Token,
    TokenRequest,
    covers,
    declared_scopes,
    merge_scopes,
    parse_token_response,
    repository_scope,
    scopes_for,
)
from imagegate.registry.challenge import parse_challenges
from imagegate.registry.credentials import Credential
from imagegate.registry.tokens import exchange_token
from imagegate.registry.wire import Request, Response

HOST = "registry.example:5000"
(BEARER,) = parse_challenges('Bearer realm="https://auth.example/token",service="reg"')
(BASIC,) = parse_challenges('Basic realm="r"')


def test_merge_scopes_unions_actions_per_repository() -> None:
    merged = merge_scopes(
        [
            "repository:src/app:pull",
            "repository:dst/app:push",
            "repository:dst/app:pull",
            "repository:base/os:pull",
            "repository:src/app:pull",
            "registry:catalog:*",
            "garbage",
        ]
    )
    assert merged == (
        "registry:catalog:*",
        "repository:base/os:pull",
        "repository:dst/app:pull,push",
        "repository:src/app:pull",
    )


def test_covers() -> None:
    have = ("repository:a:pull,push", "repository:b:pull")
    assert covers(have, ["repository:a:pull"])
    assert covers(have, ["repository:a:push", "repository:b:pull"])
    assert not covers(have, ["repository:b:push"])
    assert not covers(have, ["repository:c:pull"])


def test_declared_scopes_join_every_request_in_the_block() -> None:
    src = repository_scope("src/app")
    dst = repository_scope("dst/app", "pull,push")
    assert scopes_for(HOST, [src], None) == (src,)
    with declared_scopes({HOST: [dst, repository_scope("base/os")]}):
        assert scopes_for(HOST, [src], None) == (
            "repository:base/os:pull",
            dst,
            src,
        )
        assert scopes_for("other:1", [src], None) == (src,)
    assert scopes_for(HOST, [src], None) == (src,)


def test_challenge_scope_is_added() -> None:
    (c,) = parse_challenges('Bearer realm="r",scope="repository:x:pull"')
    assert scopes_for(HOST, ["repository:y:push"], c) == (
        "repository:x:pull",
        "repository:y:push",
    )


def test_parse_token_response() -> None:
    tok = parse_token_response(b'{"token": "abc", "expires_in": 300}', now=1000.0)
    assert tok.value == "abc"
    assert tok.expires_at == pytest.approx(1000 + 300 - 10)  # renewed 10 s early
    default = parse_token_response(b'{"access_token": "x"}', now=0.0)
    assert default.expires_at == pytest.approx(60 - 6)  # expires_in defaults to 60 s
    assert "abc" not in repr(tok)
    with pytest.raises(RegistryAuthError, match="no 'token'"):
        parse_token_response(b"{}", now=0.0, realm="https://auth.example/token")
    with pytest.raises(RegistryAuthError, match="not a JSON object"):
        parse_token_response(b"<html>", now=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _authenticator(cred: Credential | None = None):
    clock = Clock()
    fetched: list[TokenRequest] = []

    async def creds(host: str) -> Credential | None:
        return cred

    async def fetch(req: TokenRequest) -> Token:
        fetched.append(req)
        return Token(value=f"tok{len(fetched)}", expires_at=clock.now + 50)

    return Authenticator(creds, fetch, clock=clock), fetched, clock


def test_anonymous_until_challenged_then_token_cached_per_scope_set() -> None:
    auth, fetched, clock = _authenticator(Credential("alice", "pw"))

    async def run() -> None:
        assert await auth.authorization(HOST, ["repository:a:pull"]) is None
        auth.remember(HOST, BEARER)
        assert await auth.authorization(HOST, ["repository:a:pull"]) == "Bearer tok1"
        assert await auth.authorization(HOST, ["repository:a:pull"]) == "Bearer tok1"
        # a different scope set needs its own token...
        assert await auth.authorization(HOST, ["repository:b:pull,push"]) == "Bearer tok2"
        # ...but a subset of a cached token's scopes reuses it
        assert await auth.authorization(HOST, ["repository:b:push"]) == "Bearer tok2"
        clock.now = 51  # expired
        assert await auth.authorization(HOST, ["repository:a:pull"]) == "Bearer tok3"
        # a 401 that refused tok3 replaces it; refusing an older token does not
        assert await auth.authorization(HOST, ["repository:a:pull"], rejected="Bearer tok1") == (
            "Bearer tok3"
        )
        assert await auth.authorization(HOST, ["repository:a:pull"], rejected="Bearer tok3") == (
            "Bearer tok4"
        )

    asyncio.run(run())
    assert [r.scopes for r in fetched] == [
        ("repository:a:pull",),
        ("repository:b:pull,push",),
        ("repository:a:pull",),
        ("repository:a:pull",),
    ]
    assert all(r.realm == "https://auth.example/token" and r.service == "reg" for r in fetched)
    assert fetched[0].credential == Credential("alice", "pw")


def test_one_token_for_declared_multi_repository_work() -> None:
    auth, fetched, _ = _authenticator()
    auth.remember(HOST, BEARER)
    declared = [repository_scope("src/app"), repository_scope("dst/app", "pull,push")]

    async def run() -> set[str | None]:
        with declared_scopes({HOST: declared}):
            return set(
                await asyncio.gather(
                    auth.authorization(HOST, ["repository:src/app:pull"]),
                    auth.authorization(HOST, ["repository:dst/app:pull,push"]),
                    auth.authorization(HOST, ["repository:dst/app:pull"]),
                )
            )

    assert asyncio.run(run()) == {"Bearer tok1"}
    assert len(fetched) == 1
    assert fetched[0].scopes == ("repository:dst/app:pull,push", "repository:src/app:pull")
    assert fetched[0].credential is None


def test_concurrent_refusals_refresh_once() -> None:
    auth, fetched, _ = _authenticator()
    auth.remember(HOST, BEARER)

    async def run() -> set[str | None]:
        first = await auth.authorization(HOST, ["repository:a:pull"])
        return set(
            await asyncio.gather(
                *(auth.authorization(HOST, ["repository:a:pull"], rejected=first) for _ in range(5))
            )
        )

    assert asyncio.run(run()) == {"Bearer tok2"}
    assert len(fetched) == 2


def test_basic_challenge_uses_credentials_or_nothing() -> None:
    auth, fetched, _ = _authenticator(Credential("alice", "pw"))
    auth.remember(HOST, BASIC)
    header = asyncio.run(auth.authorization(HOST, ["repository:a:pull"]))
    assert header == "Basic " + base64.b64encode(b"alice:pw").decode()
    anon, _, _ = _authenticator(None)
    anon.remember(HOST, BASIC)
    assert asyncio.run(anon.authorization(HOST, ["repository:a:pull"])) is None
    assert fetched == []


def _exchange(cred: Credential | None) -> Request:
    seen: list[Request] = []

    async def fetch(req: Request, *, max_body: int = 0) -> Response:
        seen.append(req)
        body = b'{"token": "t", "expires_in": 120}'
        return Response(200, CIMultiDictProxy(CIMultiDict()), body, URL(req.target))

    treq = TokenRequest(
        "https://auth.example/token", "reg", ("repository:a:pull", "repository:b:pull,push"), cred
    )
    token = asyncio.run(exchange_token(fetch, treq, lambda: 100.0))
    assert token == Token("t", 100 + 120 - 10)
    (req,) = seen
    assert not req.authenticate  # the token request itself is never challenged again
    return req


def test_token_exchange_get_with_basic_credentials() -> None:
    req = _exchange(Credential("alice", "pw"))
    assert req.method == "GET"
    assert req.host == "auth.example"
    assert req.target == (
        "https://auth.example/token?service=reg&scope=repository:a:pull"
        "&scope=repository:b:pull,push"
    )
    # bound to the realm by the transport, never a plain header that redirects would carry
    assert "Authorization" not in req.headers
    assert req.authorization == "Basic " + base64.b64encode(b"alice:pw").decode()
    assert "pw" not in repr(req)
    anonymous = _exchange(None)
    assert anonymous.authorization is None


def test_token_exchange_identity_token_uses_oauth_refresh_grant() -> None:
    req = _exchange(Credential(identity_token="refresh-secret"))
    assert req.method == "POST"
    assert req.target == "https://auth.example/token"
    assert "Authorization" not in req.headers
    assert req.authorization is None
    assert isinstance(req.body, bytes)
    form = dict(p.split("=", 1) for p in req.body.decode().split("&"))
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "refresh-secret"
    assert form["service"] == "reg"
    assert "refresh-secret" not in repr(req.headers)
