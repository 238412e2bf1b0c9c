"""Registry bearer tokens that CNCF distribution 2.8 accepts (``auth.token`` configuration).

::

    authority = TokenAuthority("imagegate-test-issuer", "imagegate-test-registry", tmp_path)
    authority.cert_path            # PEM cert: the registry's ``rootcertbundle``
    token = authority.sign("alice", [Access("repository", "team/app", ("pull", "push"))])

A token is a compact JWS (ES256, P-256 key) whose header carries ``x5c`` = [the self-signed
certificate], so the registry verifies the signature against ``rootcertbundle``. Claims:
``iss``, ``sub``, ``aud`` (= service), ``exp``, ``nbf``, ``iat``, ``jti``, ``access``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class Access:
    """One ``access`` claim entry: e.g. ``Access("repository", "team/app", ("pull",))``."""

    type: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _self_signed(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


class TokenAuthority:
    """Signs registry tokens; writes its certificate to ``directory/token-ca.pem``."""

    def __init__(self, issuer: str, service: str, directory: Path) -> None:
        self.issuer = issuer
        self.service = service
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = _self_signed(self._key, f"{issuer} token signer")
        self.cert_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_path = directory / "token-ca.pem"
        self.cert_path.write_bytes(self.cert_pem)
        self._x5c = base64.b64encode(
            self.certificate.public_bytes(serialization.Encoding.DER)
        ).decode()

    def sign(
        self,
        subject: str,
        access: Sequence[Access],
        ttl: float = 300,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        not_before: float | None = None,
    ) -> str:
        """A compact JWS token for ``subject`` granting ``access`` for ``ttl`` seconds.

        ``audience``/``issuer``/``not_before`` override the defaults (to make bad tokens).
        """
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        claims = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + int(ttl),
            "nbf": int(not_before) if not_before is not None else now - 10,
            "iat": now,
            "jti": secrets.token_hex(12),
            "access": [a.claim() for a in access],
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + _b64url(signature)


def parse_scope(scope: str) -> Access | None:
    """``repository:team/app:pull,push`` -> Access; None if malformed."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None
    return Access(kind, name, tuple(a for a in actions.split(",") if a))


def decode_claims(token: str) -> dict[str, object]:
    """The (unverified) claims of a token, for assertions in tests."""
    payload = token.split(".")[1]
    data: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return data
