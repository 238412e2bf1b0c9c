"""WWW-Authenticate parsing (pure)."""

from __future__ import annotations

import pytest

from imagegate.registry.challenge import parse_challenges, pick_challenge

HUB = (
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:library/redis:pull"'
)


def test_docker_hub_bearer_challenge() -> None:
    (c,) = parse_challenges(HUB)
    assert c.scheme == "bearer"
    assert c.realm == "https://auth.docker.io/token"
    assert c.service == "registry.docker.io"
    assert c.scopes == ("repository:library/redis:pull",)


def test_basic_challenge_from_distribution() -> None:
    (c,) = parse_challenges('Basic realm="Registry Realm"')
    assert (c.scheme, c.realm, c.service, c.scopes) == ("basic", "Registry Realm", "", ())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # several challenges in one header, Bearer preferred
        ('Basic realm="x", Bearer realm="https://a/t",service="s"', ("basic", "bearer")),
        # token values without quotes, odd spacing and case
        ("BEARER realm=https://a/t ,  service=svc", ("bearer",)),
        ('Negotiate abc==, Basic realm="r"', ("negotiate", "basic")),
        ("Bearer", ("bearer",)),
        ("", ()),
        ("   ", ()),
    ],
)
def test_schemes(header: str, expected: tuple[str, ...]) -> None:
    assert tuple(c.scheme for c in parse_challenges(header)) == expected


def test_unquoted_params_and_escapes() -> None:
    (c,) = parse_challenges('Bearer realm="a\\"b",error="insufficient_scope",service=svc')
    assert c.realm == 'a"b'
    assert c.error == "insufficient_scope"
    assert c.service == "svc"


def test_several_scopes_split_on_spaces() -> None:
    (c,) = parse_challenges('Bearer realm="r",scope="repository:a/b:pull repository:c/d:pull,push"')
    assert c.scopes == ("repository:a/b:pull", "repository:c/d:pull,push")


def test_pick_prefers_bearer_and_ignores_unknown_schemes() -> None:
    both = parse_challenges('Basic realm="x", Bearer realm="https://a/t"')
    picked = pick_challenge(both)
    assert picked is not None
    assert picked.scheme == "bearer"
    assert pick_challenge(parse_challenges("Negotiate abc==")) is None


def test_garbage_does_not_loop_or_raise() -> None:
    for header in ['Bearer realm="unterminated', "=,=,=", 'Bearer ,,, realm="r"', "@@@ x=1"]:
        assert isinstance(parse_challenges(header), tuple)
