"""Where a registry's requests go and how: the scheme per host (https, or http once an
insecure/loopback host settled on it), the TLS context, the per-host concurrency slot, and the
origin its credentials are bound to (docs/registries.md). ``Transport`` owns one."""

from __future__ import annotations

import asyncio
import ssl

from yarl import URL

from imagegate.registry.origins import Binding, check_followed, origin
from imagegate.registry.settings import RegistrySettings
from imagegate.registry.wire import Request


class Endpoints:
    """Per-host scheme, TLS and concurrency state of one transport."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.settings = settings
        self._schemes: dict[str, str] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._ssl: dict[str, ssl.SSLContext | bool] = {}

    def base_url(self, host: str) -> URL:
        scheme = "https"
        if self.settings.tls_optional(host):
            scheme = self._schemes.get(host, "https")
        return URL(f"{scheme}://{host}")

    def url(self, req: Request) -> URL:
        if is_absolute(req.target):
            return URL(req.target, encoded=True)
        return self.base_url(req.host).join(URL(req.target, encoded=True))

    def may_fall_back_to_http(self, host: str) -> bool:
        """Whether a TLS failure with ``host`` may be retried over plain HTTP."""
        # concurrent first requests may all fail over HTTPS; the first to fail settles the
        # scheme, the others follow it
        return self.settings.tls_optional(host) and self._schemes.get(host, "http") == "http"

    def settle_http(self, host: str) -> None:
        self._schemes[host] = "http"

    def binding(self, req: Request) -> Binding:
        """The origin ``req``'s credential belongs to: the registry ``req.host`` names, as
        configured (its scheme, host and port), never a URL taken from a response. A token
        request's own credential belongs to its realm, checked before it was remembered."""
        if req.authenticate or not is_absolute(req.target):
            return self.registry_binding(req.host)
        return Binding(req.host, origin(URL(req.target, encoded=True)), plain_http_allowed=False)

    def registry_binding(self, host: str) -> Binding:
        """Registry ``host``'s own origin, as configured: what its credentials are bound to."""
        return Binding(
            host, origin(self.base_url(host)), plain_http_allowed=self.settings.tls_optional(host)
        )

    def follow(
        self, host: str, base: URL, link: str, *, kind: str, what: str, status: int, method: str
    ) -> str:
        """The absolute URL a response of registry ``host`` told us to use next (a Link or an
        upload Location); ``RegistryResponseError`` when it leaves the registry's origin."""
        binding = self.registry_binding(host)
        return str(
            check_followed(kind, base, link, binding, what=what, status=status, method=method)
        )

    def ssl_for(self, url: URL) -> ssl.SSLContext | bool:
        host = url.raw_authority or ""
        if host not in self._ssl:
            hs = self.settings.for_host(host)
            if hs.ca_file is not None:
                self._ssl[host] = ssl.create_default_context(cafile=hs.ca_file)
            elif self.settings.tls_optional(host):
                self._ssl[host] = False  # verification off, as Docker does for insecure hosts
            else:
                self._ssl[host] = True
        return self._ssl[host]

    def slot(self, host: str) -> asyncio.Semaphore:
        if host not in self._slots:
            limit = max(1, self.settings.for_host(host).max_concurrency)
            self._slots[host] = asyncio.Semaphore(limit)
        return self._slots[host]


def is_absolute(target: str) -> bool:
    """A target that is a whole URL (from a response or a realm), not a path."""
    return "://" in target.split("?", 1)[0] or target.startswith("//")
