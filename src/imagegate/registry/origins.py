"""Where a registry's credentials and content may go (pure; see docs/registries.md).

A credential belongs to the registry it was configured for: the scheme, host and port imagegate
uses for that registry name, never a URL a response supplied. URLs that come from responses are
followed only as the OCI distribution spec allows:

- a tag list ``Link: <...>; rel="next"``: the next page of the same list, on the same registry;
  another origin is refused (:func:`check_followed`);
- an upload ``Location``: the spec lets it be absolute, but imagegate sends blob content and
  credentials only to the registry it was asked to push to; another origin is refused;
- a redirect of a ``GET``/``HEAD`` (blobs on a CDN): followed, without ``Authorization``
  unless it lands on the registry's own origin (:meth:`Binding.admits`);
- a token realm (``WWW-Authenticate: Bearer realm=...``): http(s) only; an internal address
  only for a loopback or ``insecure`` registry; never plain HTTP with a password for a registry
  reached over HTTPS (:func:`realm_problem`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from yarl import URL

from imagegate.errors import RegistryResponseError, redact_url

Origin = tuple[str, str, int | None]  # (scheme, lower-case host, port with defaults filled)

DEFAULT_PORTS = {"http": 80, "https": 443}
NEXT_PAGE = "a tag list next page (Link header)"
UPLOAD_LOCATION = "an upload location (Location header)"


def origin(url: URL) -> Origin:
    return (url.scheme, (url.host or "").lower(), url.port)


def _default_port(o: Origin) -> bool:
    return DEFAULT_PORTS.get(o[0]) == o[2]


def may_carry_credentials(url: URL, registry: Origin, *, plain_http_allowed: bool) -> bool:
    """Whether a request to ``url`` may carry the registry's ``Authorization``: only to the
    registry's own host and port (never to a CDN a blob GET was redirected to), and never from
    HTTPS down to plain HTTP unless plain HTTP is allowed for that registry anyway (then the
    default ports of both schemes are the same registry, as the HTTP fallback uses them)."""
    here = origin(url)
    if here[0] not in DEFAULT_PORTS or not here[1] or here[1] != registry[1]:
        return False
    if here[0] == registry[0]:
        return here[2] == registry[2]
    if not plain_http_allowed:
        return False
    return here[2] == registry[2] or (_default_port(here) and _default_port(registry))


@dataclass(frozen=True, slots=True)
class Binding:
    """The one origin a credential (and pushed content) belongs to."""

    name: str  # the registry as configured (wire host), or the realm, for messages
    origin: Origin
    plain_http_allowed: bool

    def admits(self, url: URL) -> bool:
        return may_carry_credentials(url, self.origin, plain_http_allowed=self.plain_http_allowed)

    def difference(self, url: URL) -> str:
        """How ``url`` differs from this origin, in words (for error messages)."""
        scheme, host, port = origin(url)
        if scheme not in DEFAULT_PORTS:
            return f"a {scheme or 'relative'}: URL, not http(s)"
        if host != self.origin[1]:
            return f"another host, {url.raw_authority}"
        if port != self.origin[2] and scheme == self.origin[0]:
            return f"another port, {port}"
        return "plain HTTP instead of HTTPS" if scheme == "http" else "another scheme and port"


def join_reference(base: URL, link: str) -> URL | None:
    """``link`` (absolute or relative, RFC 3986) resolved against ``base``; None if unusable."""
    try:
        return base.join(URL(link.strip(), encoded=True))
    except (ValueError, TypeError):
        return None


def check_followed(
    kind: str, base: URL, link: str, binding: Binding, *, what: str, status: int, method: str
) -> URL:
    """The URL a response told us to use next (``kind``: :data:`NEXT_PAGE` or
    :data:`UPLOAD_LOCATION`), or ``RegistryResponseError`` when it leaves the registry."""
    url = join_reference(base, link)
    if url is not None and binding.admits(url):
        return url
    shown = redact_url(str(url)) if url is not None else repr(link[:200])
    why = binding.difference(url) if url is not None else "not a URL"
    raise RegistryResponseError(
        f"{what}: registry {binding.name} sent {kind} pointing at {shown} ({why}); "
        f"imagegate sends credentials and image content only to {binding.name} itself, so it "
        "stopped here. If the registry sits behind a proxy, make the proxy keep the public "
        "scheme/host in Location and Link headers (e.g. X-Forwarded-Proto/Host), or report it",
        status=status,
        method=method,
        url=str(base),
    )


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` spells, including legacy IPv4 forms (``127.1``, ``2130706433``,
    ``0x7f000001``) that the system resolver accepts; None for a DNS name."""
    name = host.strip("[]")
    try:
        return ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        pass
    if not name or not all(c in "0123456789abcdefx." for c in name.lower()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def is_internal(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or an address that is not globally routable (private
    10/8, 172.16/12, 192.168/16, fc00::/7; link-local 169.254/16, fe80::/10; loopback;
    CGNAT, unspecified, reserved). DNS names are not resolved."""
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        return True
    ip = _address(lowered)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


def realm_problem(
    realm: str,
    *,
    registry: str,
    trusted_network: bool,
    plain_http_allowed: bool,
    sends_secret: bool,
) -> str | None:
    """Why the token realm a registry named may not be used, or None when it may.

    ``trusted_network``: the registry is on loopback or configured ``insecure``, so a realm
    on an internal address is expected. ``plain_http_allowed``: the registry itself may be
    reached over plain HTTP. ``sends_secret``: a password or identity token would go to it.
    """
    prefix = f"registry {registry} named a token service"
    url = join_reference(URL(), realm) if realm else None
    if url is None or url.scheme not in DEFAULT_PORTS or not url.host:
        return (
            f"{prefix} ({redact_url(realm[:200])!r}) that is not an http(s) URL; "
            "imagegate cannot authenticate there; check the registry's auth configuration"
        )
    host = url.host
    if is_internal(host) and not trusted_network:
        return (
            f"{prefix} on the internal address {host} ({redact_url(realm)}), which a registry "
            f"that is neither loopback nor configured insecure may not do; imagegate refused to "
            f"send anything there. If {host} really is {registry}'s token service, set "
            f"'insecure: true' for {registry} under registries:"
        )
    if url.scheme == "http" and sends_secret and not plain_http_allowed:
        return (
            f"{prefix} on plain HTTP ({redact_url(realm)}) while {registry} is reached over "
            f"HTTPS; imagegate will not send its credentials unencrypted. Fix the registry's "
            f"token realm to use https://"
        )
    return None
