"""The one error hierarchy of imagegate.

Every failure that reaches the user is an ``ImagegateError``; the CLI boundary
(``imagegate.cli.main``) turns it into a one-line message and the exit code it carries.

::

    ImagegateError                       exit 1
    ├── UsageError                       exit 3  bad command-line arguments
    ├── ConfigError                      exit 3  invalid allowlist file (names file, line, key)
    ├── InvalidReferenceError            exit 3  unparseable image reference
    ├── CredentialsError                 exit 4  missing/unreadable credentials, helper failed
    ├── StateError                       exit 5  state database unreadable or too new
    ├── UnsupportedManifestError         exit 1  schema1, oversize, unknown media type
    ├── DigestMismatchError              exit 1  content did not verify; nothing was tagged
    ├── RegistryError                    exit 1  anything from an OCI registry
    │   ├── RegistryTransportError               no response (connect/read failure, timeout)
    │   ├── RegistryAuthError            exit 4  token exchange failed, or 401 after refresh
    │   └── RegistryResponseError                status + diagnostics [(code, message, detail)]
    │       ├── NotFoundError                    404 / *_UNKNOWN
    │       ├── DeniedError              exit 4  403 / DENIED
    │       └── RateLimitedError                 429 / TOOMANYREQUESTS (retry_after seconds)
    ├── HubApiError                      exit 1  Docker Hub REST failures (status, message)
    │   ├── HubAuthError                 exit 4  login failed / credential kind not allowed
    │   └── HubRateLimitedError                  429 (retry_after seconds)
    └── NotifyError                      exit 1  a webhook could not be delivered

Messages say what is wrong and what to do. They never contain a secret: URLs are redacted
with :func:`redact_url` before they are put into a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CHANGES = 2  # `plan --detailed-exitcode`: the plan is not empty
EXIT_CONFIG = 3
EXIT_AUTH = 4
EXIT_STATE = 5
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

# Regular expressions are compiled on first use (re caches them), not at import: start-up
# (docs/benchmarks.md). The same holds in the modules every command imports.
_SENSITIVE_QUERY = (
    r"(?i)([?&](?:_state|token|access_token|password|secret|sig|signature|x-amz-[a-z-]+|"
    r"x-goog-[a-z-]+|key)=)[^&#\s]*"
)
_USERINFO = r"(?i)(https?://)[^/@\s]+@"


def failure_exit_code(codes: Iterable[int]) -> int:
    """The exit code of a run whose items failed with ``codes``: EXIT_AUTH when every failure
    was a credentials or permission problem (so CI can tell "fix the login" apart), else 1."""
    found = set(codes)
    if not found:
        return EXIT_OK
    return EXIT_AUTH if found == {EXIT_AUTH} else EXIT_FAILURE


def redact_url(url: str) -> str:
    """Remove credentials from a URL: user info and secret-looking query values."""
    url = re.sub(_USERINFO, r"\1***@", url)
    return re.sub(_SENSITIVE_QUERY, r"\1***", url)


class ImagegateError(Exception):
    """Root of every error imagegate reports to a user."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ImagegateError):
    exit_code = EXIT_CONFIG


class ConfigError(ImagegateError):
    """An invalid allowlist file. ``where`` is ``file:line`` (or just the file)."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}" if path and line is not None else path
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.detail = message


class InvalidReferenceError(ImagegateError):
    exit_code = EXIT_CONFIG


class CredentialsError(ImagegateError):
    exit_code = EXIT_AUTH


class StateError(ImagegateError):
    exit_code = EXIT_STATE


class UnsupportedManifestError(ImagegateError):
    pass


class DigestMismatchError(ImagegateError):
    def __init__(self, *, what: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{what}: content digest {actual} does not match the expected {expected}; "
            "nothing was tagged (the source may be corrupt or tampered with)"
        )
        self.expected = expected
        self.actual = actual


class RegistryError(ImagegateError):
    """Anything that went wrong talking to an OCI registry."""

    @property
    def temporary(self) -> bool:
        return False


class RegistryTransportError(RegistryError):
    """No usable response: connection refused/reset, TLS failure, timeout, truncated body."""

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls

    @property
    def temporary(self) -> bool:
        return not self.tls


class RegistryAuthError(RegistryError):
    exit_code = EXIT_AUTH


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One entry of an OCI error body: ``{"code", "message", "detail"}``."""

    code: str
    message: str = ""
    detail: object = field(default=None, compare=False)


# Status codes and OCI error codes worth another try, each with its reason.
RETRYABLE_STATUSES = frozenset(
    {
        408,  # request timeout
        429,  # rate limited: honour Retry-After
        499,  # client closed request, seen behind some proxies
        500,  # internal error, usually transient on registries
        502,  # bad gateway: load balancer in front of the registry
        503,  # unavailable: overloaded or restarting
        504,  # gateway timeout
        522,  # connection timed out (CDN)
    }
)
RETRYABLE_CODES = frozenset({"TOOMANYREQUESTS", "UNAVAILABLE"})


class RegistryResponseError(RegistryError):
    """The registry answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        diagnostics: Sequence[Diagnostic] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = redact_url(url)
        self.diagnostics = tuple(diagnostics)
        self.retry_after = retry_after  # seconds, from a Retry-After header (429 or 503)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.diagnostics)

    @property
    def temporary(self) -> bool:
        return self.status in RETRYABLE_STATUSES or any(c in RETRYABLE_CODES for c in self.codes)


class NotFoundError(RegistryResponseError):
    pass


class DeniedError(RegistryResponseError):
    exit_code = EXIT_AUTH


class RateLimitedError(RegistryResponseError):
    pass


class HubApiError(ImagegateError):
    """A Docker Hub API call failed. ``status`` is the HTTP status (0 when no response)."""

    def __init__(self, message: str, *, status: int = 0, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = redact_url(url)

    @property
    def temporary(self) -> bool:
        return self.status == 0 or self.status in RETRYABLE_STATUSES


class HubAuthError(HubApiError):
    exit_code = EXIT_AUTH


class HubRateLimitedError(HubApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class NotifyError(ImagegateError):
    pass
