"""``imagegate doctor``: preflight of the Docker Hub credential, in plain words.

The secret comes from ``IMAGEGATE_HUB_TOKEN`` (or the file ``IMAGEGATE_HUB_TOKEN_FILE``
names), else from the Docker config entry for docker.io (``docker login``). With ``-c FILE``
(or ``IMAGEGATE_CONFIG`` and no ``--org``) everything comes from the allowlist instead
(org, Hub URL, credentials, teams, repositories, whether IAM is managed): the same preflight
``sync`` runs, plus the registry checks (push on every target repository, pull on every
source: a token exchange, nothing pushed). Exit 4 when a required check fails.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from imagegate.cli.env import HUB_TOKEN, config_file, hub_token
from imagegate.cli.render import print_json
from imagegate.errors import EXIT_AUTH, EXIT_OK, CredentialsError, UsageError

if TYPE_CHECKING:
    from imagegate.hub.doctor import Check

TOKEN_ENV = HUB_TOKEN


def register(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the Docker Hub credential can do what a sync needs",
        description="Log in to Docker Hub and explain what is missing: credential kind, IAM "
        "settings, creating repositories, assigning teams, pulling Community images, teams.",
    )
    p.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="check what a sync of this allowlist needs (replaces the other options)",
    )
    p.add_argument("--org", help="the target Docker Hub organization (required without -c)")
    p.add_argument("--hub-url", default=None, help="Docker Hub API base URL")
    p.add_argument(
        "--username",
        help="login identifier: a username, or the org name for an org access token "
        "(default: from the Docker config)",
    )
    p.add_argument("--team", action="append", default=[], help="a team that must exist")
    p.add_argument(
        "--repository", action="append", default=[], help="a target repository name to check"
    )
    p.add_argument(
        "--no-settings",
        dest="manage_settings",
        action="store_false",
        help="IAM settings are not managed: do not require access to them",
    )
    p.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(func=run)


def credentials(username: str | None, env: dict[str, str] | None = None) -> tuple[str, str]:
    """(identifier, secret) from IMAGEGATE_HUB_TOKEN (+ --username) or the Docker config."""
    environ = dict(os.environ) if env is None else env
    secret = hub_token(environ)
    if secret:
        if not username:
            raise CredentialsError(
                f"{TOKEN_ENV} (or {TOKEN_ENV}_FILE) is set but --username is not; give the "
                "username (or the org name for an org access token)"
            )
        return username, secret
    from imagegate.registry.credentials import CredentialStore

    cred = CredentialStore(env=environ).get("docker.io")
    if cred is None or not cred.password:
        raise CredentialsError(
            f"no Docker Hub credential: set {TOKEN_ENV} or {TOKEN_ENV}_FILE (and --username), "
            "or run 'docker login' for docker.io"
        )
    return username or cred.username, cred.password


async def from_file(path: str) -> tuple[Check, ...]:
    """The preflight ``sync`` runs, for the allowlist at ``path``."""
    from imagegate.config.load import load_config
    from imagegate.run.preflight import connect, preflight
    from imagegate.run.wiring import registry_client

    config = load_config(path)
    if config.target.hub is None:
        raise UsageError(
            f"{path}: the target {config.target.registry} is not Docker Hub; add 'target.hub' "
            "(or mirror to docker.io) for doctor to have something to check"
        )
    async with connect(config) as client, registry_client(config) as registry:
        assert client is not None
        return await preflight(config, config.images, client, registry)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.domain.allowlist import DEFAULT_HUB_URL
    from imagegate.hub.client import HubClient
    from imagegate.hub.doctor import run_doctor

    path = config_file(args.config) if args.config or not args.org else None
    if path:
        checks = asyncio.run(from_file(path))
        return report(args, checks)
    if not args.org:
        raise UsageError("doctor needs --org ORG, or -c FILE to check an allowlist")
    identifier, secret = credentials(args.username)

    async def go() -> tuple[Check, ...]:
        async with HubClient(args.hub_url or DEFAULT_HUB_URL, identifier, secret) as client:
            return await run_doctor(
                client,
                org=args.org,
                teams=args.team,
                repositories=args.repository,
                manage_settings=args.manage_settings,
            )

    return report(args, asyncio.run(go()))


def report(args: argparse.Namespace, checks: tuple[Check, ...]) -> int:
    if args.output == "json":
        print_json(
            [
                {"name": c.name, "ok": c.ok, "required": c.required, "message": c.message}
                for c in checks
            ]
        )
    else:
        for c in checks:
            mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
            print(f"{mark} {c.name}: {c.message}")
    return EXIT_AUTH if any(c.failed for c in checks) else EXIT_OK
