"""Signed session cookies and CSRF tokens (HMAC-SHA256 with the console's secret key).

The key comes from ``console.secret_file``, else ``$IMAGEGATE_CONSOLE_SECRET``, else the file
``console-secret`` beside the state database, created (0600) with 32 random bytes when missing.
A session is ``base64(json).signature``: the session id, the user (built-in sign-in only; the
proxy's header names the user on every request) and the expiry. The CSRF token is an HMAC of
the session id, so it is bound to the browser's session and never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from imagegate.errors import ConfigError

SECRET_ENV = "IMAGEGATE_CONSOLE_SECRET"  # noqa: S105 (a variable's name)
SECRET_FILE_NAME = "console-secret"  # noqa: S105 (a file's name)
MIN_SECRET = 16
MAX_COOKIE = 2048


def load_secret(secret_file: Path | None, state_path: Path) -> bytes:
    if secret_file is None and os.environ.get(SECRET_ENV):
        value = os.environ[SECRET_ENV].encode()
        if len(value) < MIN_SECRET:
            raise ConfigError(f"${SECRET_ENV} must be at least {MIN_SECRET} characters")
        return value
    path = secret_file or state_path.parent / SECRET_FILE_NAME
    try:
        data = path.read_bytes().strip()
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        raise ConfigError(f"cannot read the console secret {path}: {exc.strerror}") from None
    if data:
        if len(data) < MIN_SECRET:
            raise ConfigError(f"the console secret {path} is shorter than {MIN_SECRET} bytes")
        return data
    data = secrets.token_hex(32).encode()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")
    except FileExistsError:  # another process made it first: use theirs
        return load_secret(path, state_path)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the console secret {path}: {exc.strerror}; set console.secret_file "
            f"or ${SECRET_ENV}"
        ) from None
    return data


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    user: str = ""  # empty: identity from the proxy header (or not signed in)
    expires: int = 0  # Unix seconds


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"imagegate-console\0" + key).digest()

    def _mac(self, purpose: str, data: bytes) -> str:
        digest = hmac.new(self._key, purpose.encode() + b"\0" + data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def dump(self, session: Session) -> str:
        doc = {"s": session.sid, "u": session.user, "e": session.expires}
        body = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
        return f"{body}.{self._mac('session', body.encode())}"

    def load(self, cookie: str | None, now: float) -> Session | None:
        """The session of a cookie, or None if absent, forged, malformed or expired."""
        if not cookie or len(cookie) > MAX_COOKIE or "." not in cookie:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session", body.encode())):
            return None
        try:
            doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(sid=str(doc["s"]), user=str(doc["u"]), expires=int(doc["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > now and session.sid else None

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", f"{session.sid}\0{session.user}".encode())

    def check_csrf(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(session))


def new_session(user: str, expires: int) -> Session:
    return Session(sid=secrets.token_urlsafe(18), user=user, expires=expires)
