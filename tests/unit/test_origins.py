"""Every URL a registry response supplies, and where imagegate lets credentials and content go:
tag-list Link, upload Location, redirect Location, token realm (docs/registries.md)."""

from __future__ import annotations

import asyncio

import pytest
from yarl import URL

from imagegate.errors import RegistryResponseError
from imagegate.registry.credentials import Credential
from imagegate.registry.origins import (
    NEXT_PAGE,
    UPLOAD_LOCATION,
    Binding,
    check_followed,
    is_internal,
    origin,
    realm_problem,
)
from imagegate.registry.settings import HostSettings, RegistrySettings
from imagegate.registry.transport import Transport
from imagegate.registry.wire import Request

HTTPS_REG = Binding("registry.example", origin(URL("https://registry.example")), False)
PLAIN_OK = Binding("registry.example", origin(URL("https://registry.example")), True)
PORTED = Binding("registry.example:5000", origin(URL("https://registry.example:5000")), False)
PAGE = URL("https://registry.example/v2/a/b/tags/list")
PORTED_PAGE = URL("https://registry.example:5000/v2/a/b/tags/list")

# (binding, the response's URL, the header value, followed?)
CASES = [
    (HTTPS_REG, PAGE, "/v2/a/b/tags/list?n=1&last=x", True),  # relative
    (HTTPS_REG, PAGE, "?n=1&last=x", True),  # relative, query only
    (HTTPS_REG, PAGE, "https://registry.example/v2/a/b/tags/list?last=x", True),  # same origin
    (HTTPS_REG, PAGE, "https://REGISTRY.example:443/v2/x", True),  # same origin, spelled out
    (HTTPS_REG, PAGE, "https://evil.example/v2/a/b/tags/list", False),  # other host
    (HTTPS_REG, PAGE, "//evil.example/v2/a/b/tags/list", False),  # other host, scheme-relative
    (HTTPS_REG, PAGE, "https://registry.example:8443/v2/x", False),  # other port
    (HTTPS_REG, PAGE, "http://registry.example/v2/x", False),  # https -> http
    (HTTPS_REG, PAGE, "http://registry.example:443/v2/x", False),  # https -> http, same port
    (PLAIN_OK, PAGE, "http://registry.example/v2/x", True),  # plain HTTP allowed there
    (PLAIN_OK, PAGE, "http://registry.example:8080/v2/x", False),  # ... but not another port
    (PLAIN_OK, PAGE, "http://evil.example/v2/x", False),  # ... nor another host
    (PORTED, PORTED_PAGE, "/v2/x", True),
    (PORTED, PORTED_PAGE, "https://registry.example/v2/x", False),  # default port != 5000
    (HTTPS_REG, PAGE, "ftp://registry.example/v2/x", False),  # not http(s)
    (HTTPS_REG, PAGE, "file:///etc/passwd", False),
    (HTTPS_REG, PAGE, "http://[bad", False),  # not a URL
]


@pytest.mark.parametrize("kind", [NEXT_PAGE, UPLOAD_LOCATION])
@pytest.mark.parametrize(("binding", "base", "link", "followed"), CASES)
def test_response_supplied_urls(kind, binding, base, link, followed):
    if followed:
        url = check_followed(kind, base, link, binding, what="w", status=200, method="GET")
        assert binding.admits(url)
        return
    with pytest.raises(RegistryResponseError) as caught:
        check_followed(kind, base, link, binding, what="tag list of x", status=200, method="GET")
    message = str(caught.value)
    assert message.startswith(f"tag list of x: registry {binding.name} sent {kind} pointing at")
    assert "\n" not in message
    assert caught.value.exit_code == 1 and not caught.value.temporary


def test_refusal_says_how_the_url_differs_and_redacts_it():
    with pytest.raises(RegistryResponseError) as caught:
        check_followed(
            UPLOAD_LOCATION,
            PAGE,
            "https://evil.example/up?_state=SECRETSTATE&token=SECRETTOKEN",
            HTTPS_REG,
            what="upload",
            status=202,
            method="POST",
        )
    message = str(caught.value)
    assert "another host, evil.example" in message
    assert "SECRET" not in message


# redirects: followed for GET/HEAD, with Authorization only on the registry's own origin
@pytest.mark.parametrize(
    ("binding", "url", "carries"),
    [
        (HTTPS_REG, "https://registry.example/v2/a/blobs/sha256:1", True),
        (HTTPS_REG, "https://cdn.example/blob?sig=1", False),  # a CDN: no credentials
        (HTTPS_REG, "http://registry.example/v2/", False),  # downgrade
        (PLAIN_OK, "http://registry.example/v2/", True),  # insecure/loopback registry
        (PLAIN_OK, "http://registry.example:443/v2/", True),
        (PORTED, "https://registry.example:5001/v2/", False),
    ],
)
def test_redirect_location_carries_credentials_only_home(binding, url, carries):
    assert binding.admits(URL(url)) is carries


# -- token realms ------------------------------------------------------------------------------
REGISTRY = "registry.example"


@pytest.mark.parametrize(
    ("realm", "trusted", "plain_ok", "secret", "refused_because"),
    [
        ("https://auth.docker.io/token", False, False, True, None),  # public: token spec
        ("https://auth.example/token", False, False, False, None),
        ("http://auth.example/token", False, False, False, None),  # anonymous: nothing to leak
        ("http://auth.example/token", False, False, True, "plain HTTP"),  # password in clear
        ("http://auth.example/token", False, True, True, None),  # registry itself plain HTTP
        ("https://10.0.0.5/token", False, False, True, "internal address 10.0.0.5"),
        ("https://172.16.9.1/token", False, False, False, "internal address"),
        ("https://192.168.1.1/token", False, False, True, "internal address"),
        ("https://[fd00::1]/token", False, False, True, "internal address"),
        ("http://169.254.169.254/latest/meta-data", False, False, False, "internal address"),
        ("https://[fe80::1]/token", False, False, True, "internal address"),
        ("https://127.0.0.1:5001/token", False, False, True, "internal address"),
        ("https://localhost/token", False, False, True, "internal address"),
        ("https://2130706433/token", False, False, True, "internal address"),  # 127.0.0.1
        ("https://[::ffff:10.1.1.1]/token", False, False, True, "internal address"),
        ("http://127.0.0.1:5001/token", True, True, True, None),  # loopback registry
        ("https://10.0.0.5/token", True, False, True, None),  # insecure registry
        ("ftp://auth.example/token", False, False, True, "not an http(s) URL"),
        ("file:///etc/passwd", True, True, True, "not an http(s) URL"),
        ("/token", True, True, True, "not an http(s) URL"),
        ("", False, False, True, "not an http(s) URL"),
    ],
)
def test_realm_policy(realm, trusted, plain_ok, secret, refused_because):
    problem = realm_problem(
        realm,
        registry=REGISTRY,
        trusted_network=trusted,
        plain_http_allowed=plain_ok,
        sends_secret=secret,
    )
    if refused_because is None:
        assert problem is None
        return
    assert problem is not None
    assert problem.startswith(f"registry {REGISTRY} named a token service")
    assert refused_because in problem and "\n" not in problem


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("auth.docker.io", False),
        ("8.8.8.8", False),
        ("face.bad", False),  # a DNS name spelled with hex letters
        ("10.1.2.3", True),
        ("127.1", True),  # legacy IPv4 forms the resolver accepts
        ("0x7f000001", True),
        ("0.0.0.0", True),
        ("a.localhost", True),
        ("fe80::1%eth0", True),
    ],
)
def test_internal_hosts(host, internal):
    assert is_internal(host) is internal


# -- the transport's bindings -------------------------------------------------------------
async def _no_credentials(host: str) -> Credential | None:
    return None


def test_registry_credentials_are_bound_to_the_registry_not_the_requested_url():
    settings = RegistrySettings(hosts={"reg.example": HostSettings(ca_file="/ca.pem")})
    t = Transport(settings, _no_credentials)
    absolute = Request("GET", "reg.example", "https://evil.example/v2/a/tags/list")
    assert not t.binding(absolute).admits(URL(absolute.target))
    assert t.binding(absolute).origin == ("https", "reg.example", 443)
    loopback = Request("GET", "127.0.0.1:5000", "/v2/")
    assert t.binding(loopback).admits(URL("http://127.0.0.1:5000/v2/x"))  # plain HTTP allowed
    token = Request("GET", "auth.example", "https://auth.example/token?x=1", authenticate=False)
    assert t.binding(token).admits(URL("https://auth.example/token"))  # the realm only
    assert not t.binding(token).admits(URL("https://evil.example/token"))
    assert not t.binding(token).admits(URL("http://auth.example/token"))


def test_transport_refuses_an_unchecked_absolute_target_before_sending():
    t = Transport(RegistrySettings(), _no_credentials)

    async def go() -> None:
        await t.open()
        try:
            await t.fetch(Request("PUT", "reg.example", "https://evil.example/up", body=b"x"))
        finally:
            await t.close()

    with pytest.raises(RegistryResponseError, match=r"another host, evil\.example"):
        asyncio.run(go())
    assert t.stats.bytes_out == 0
