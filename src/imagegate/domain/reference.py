"""Image references, parsed and normalized the way Docker does.

``redis`` -> ``docker.io/library/redis:latest``; ``docker.io`` and ``index.docker.io`` are
aliases whose wire host is ``registry-1.docker.io``. Docker Hub naming lives here and nowhere
else (reference/docker-hub-api.md §8, distribution/reference normalize.go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from imagegate.domain.digest import Digest
from imagegate.errors import InvalidReferenceError, redact_url

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DOCKER_HUB_WIRE_HOST = "registry-1.docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# Every pattern is ASCII-only and used with fullmatch(): `\w` would take 'é' and `$` would
# take a final newline ("v1\n"), neither of which a registry accepts.
# Compiled on first use (re caches them), not at import: start-up (docs/benchmarks.md).
_PATH_RE = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG_RE = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::([0-9]+))?"
_HEX64 = r"[a-f0-9]{64}"
MAX_PORT = 65535


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized image reference. ``registry`` is canonical (``docker.io`` for Hub)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    @property
    def wire_host(self) -> str:
        """The host the distribution API is served from."""
        return DOCKER_HUB_WIRE_HOST if self.is_docker_hub else self.registry

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or DEFAULT_TAG

    @property
    def familiar(self) -> str:
        """The short form Docker prints: ``redis:7``, ``grafana/loki``, ``ghcr.io/x/y``."""
        repo = self.repository
        if self.is_docker_hub:
            if repo.startswith(OFFICIAL_NAMESPACE + "/") and repo.count("/") == 1:
                repo = repo.removeprefix(OFFICIAL_NAMESPACE + "/")
            base = repo
        else:
            base = f"{self.registry}/{repo}"
        return base + self._suffix()

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def with_tag(self, tag: str | None) -> Reference:
        if tag is not None:
            _check_tag(tag, self.name)
        return replace(self, tag=tag)

    def with_digest(self, digest: Digest | None) -> Reference:
        return replace(self, digest=digest)

    def repo_only(self) -> Reference:
        return replace(self, tag=None, digest=None)

    def __str__(self) -> str:
        return self.name + self._suffix()


def _check_tag(tag: str, whole: str) -> None:
    if not tag:
        raise InvalidReferenceError(f"invalid reference {whole!r}: empty tag")
    if not re.fullmatch(_TAG_RE, tag, re.ASCII):
        raise InvalidReferenceError(
            f"invalid reference {whole!r}: tag {tag!r} must be 1-128 characters of "
            "letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        )


def _check_domain(domain: str, original: str) -> None:
    m = re.fullmatch(_DOMAIN_RE, domain, re.ASCII)
    if not m:
        raise InvalidReferenceError(f"invalid reference {original!r}: bad registry host {domain!r}")
    port = m.group(1)
    if port is not None and (len(port) > len(str(MAX_PORT)) or not 0 < int(port) <= MAX_PORT):
        raise InvalidReferenceError(
            f"invalid reference {original!r}: port {port} of registry host {domain!r} is out "
            f"of range; use 1-{MAX_PORT}"
        )


def split_domain(name: str) -> tuple[str, str]:
    """Split ``host/path`` the way Docker does; returns (canonical registry, repository)."""
    first, sep, rest = name.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first.lower() != first):
        domain, remainder = first, rest
    else:
        domain, remainder = DOCKER_HUB, name
    if domain in DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remainder:
        remainder = f"{OFFICIAL_NAMESPACE}/{remainder}"
    return domain, remainder


def parse_reference(text: str, *, default_tag: str | None = DEFAULT_TAG) -> Reference:
    """Parse ``[host[:port]/]path[:tag][@digest]``.

    Without tag or digest, ``default_tag`` is used (``None`` keeps it a bare repository).
    """
    original = text
    if not text or text.strip() != text:
        raise InvalidReferenceError(f"invalid reference {original!r}: empty or has spaces")
    if "://" in text or "/" in text.partition("@")[2]:  # a URL, or user:password@host/...
        shown = redact_url(text) if "://" in text else "***@" + text.partition("@")[2]
        raise InvalidReferenceError(
            f"invalid reference {shown!r}: write [host[:port]/]repository[:tag] without a "
            "scheme (http://) or credentials (use 'docker login' or the allowlist's registries:)"
        )
    digest: Digest | None = None
    if "@" in text:
        text, _, dpart = text.partition("@")
        try:
            digest = Digest.parse(dpart)
        except InvalidReferenceError as exc:
            raise InvalidReferenceError(f"invalid reference {original!r}: {exc}") from None
    tag: str | None = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        _check_tag(tag, original)
    if not text:
        raise InvalidReferenceError(f"invalid reference {original!r}: missing repository name")
    domain, path = split_domain(text)
    if not path:
        raise InvalidReferenceError(f"invalid reference {original!r}: missing repository name")
    if domain != DOCKER_HUB:
        _check_domain(domain, original)
    if path.lower() != path:
        raise InvalidReferenceError(
            f"invalid reference {original!r}: repository name must be lowercase"
        )
    if not re.fullmatch(_PATH_RE, path, re.ASCII):
        raise InvalidReferenceError(
            f"invalid reference {original!r}: repository {path!r} may only contain lowercase "
            "letters, digits and separators ('.', '_', '__', '-') between '/'-separated parts"
        )
    if domain == DOCKER_HUB and re.fullmatch(
        _HEX64, path.removeprefix(OFFICIAL_NAMESPACE + "/"), re.ASCII
    ):
        raise InvalidReferenceError(
            f"invalid reference {original!r}: a 64-hex name looks like an image id, "
            "not a repository"
        )
    if len(f"{domain}/{path}") > MAX_NAME_LENGTH:
        raise InvalidReferenceError(
            f"invalid reference {original!r}: name longer than {MAX_NAME_LENGTH} characters"
        )
    if tag is None and digest is None:
        tag = default_tag
    return Reference(registry=domain, repository=path, tag=tag, digest=digest)


def parse_repository(text: str) -> Reference:
    """Parse a repository name; a tag or digest is an error."""
    ref = parse_reference(text, default_tag=None)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReferenceError(
            f"invalid repository {text!r}: expected a name without tag or digest"
        )
    return ref
