"""Hashed passwords of the console's built-in sign-in (``users_file``), with stdlib scrypt.

A users file has one ``name:scrypt$N$r$p$SALT$HASH`` line per user (salt and hash in
URL-safe base64); ``#`` starts a comment. ``imagegate console hash-password`` writes such a
line. No plain password is ever stored, logged or shown.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

from imagegate.errors import ConfigError

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # about 16 MiB and tens of milliseconds per check
SALT_BYTES = 16
KEY_BYTES = 32
MAX_PASSWORD = 1024  # bytes; longer input is refused rather than hashed
MAX_USERS_FILE = 1024 * 1024
_MAX_N = 2**20


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """``scrypt$N$r$p$SALT$HASH`` for ``password``."""
    raw = password.encode()
    if not raw or len(raw) > MAX_PASSWORD:
        raise ConfigError(f"a password must be 1 to {MAX_PASSWORD} bytes")
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(raw, salt=salt, n=n, r=r, p=p, maxmem=0, dklen=KEY_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time compare; False if malformed)."""
    raw = password.encode()
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME or not raw or len(raw) > MAX_PASSWORD:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return False
    if not (2 <= n <= _MAX_N and 1 <= r <= 32 and 1 <= p <= 16 and expected):
        return False
    try:
        key = hashlib.scrypt(
            raw, salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * p + 2**20, dklen=len(expected)
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(key, expected)


@functools.cache
def _dummy() -> str:
    """A hash to check against when the user does not exist: the answer takes as long either
    way. Made on first use (scrypt costs tens of milliseconds: not at import)."""
    return hash_password(secrets.token_hex(8))


def check_user(users: Mapping[str, str], name: str, password: str) -> bool:
    encoded = users.get(name)
    ok = verify_password(password, encoded or _dummy())
    return ok and encoded is not None


def read_users(path: Path) -> dict[str, str]:
    """name -> encoded hash. ConfigError naming file:line for a malformed line."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_USERS_FILE + 1)
    except OSError as exc:
        raise ConfigError(
            f"cannot read the console users file {path}: {exc.strerror or exc}; create it with "
            "lines from `imagegate console hash-password NAME`"
        ) from None
    if len(data) > MAX_USERS_FILE:
        raise ConfigError(f"the console users file {path} is larger than 1 MiB")
    users: dict[str, str] = {}
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, encoded = text.partition(":")
        if not sep or not name or not encoded.startswith(SCHEME + "$"):
            raise ConfigError(
                f"{path}:{number}: expected NAME:scrypt$...; make the line with "
                "`imagegate console hash-password NAME`"
            )
        users[name] = encoded
    return users
