"""Two Hub credentials: one manages the org, a second one only lists its teams.

An owner's personal access token manages IAM settings, repositories and team grants but
cannot list the org's teams; an organization access token (OAT, ``scope-group-read``) can list
them but never touches IAM settings. :class:`SplitHubClient` is the PAT's client whose
:meth:`groups_list` goes through the OAT (``target.hub.teams_token``). Nothing else uses it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from imagegate.errors import HubApiError
from imagegate.hub.client import HubClient
from imagegate.hub.models import CredentialKind, Team


class SplitHubClient(HubClient):
    """A HubClient whose team listing signs in with a second credential (``teams``)."""

    def __init__(
        self,
        url: str,
        identifier: str | None,
        secret: str | None,
        *,
        teams_identifier: str,
        teams_secret: str,
        **transport_options: Any,
    ) -> None:
        super().__init__(url, identifier, secret, **transport_options)
        self.teams = HubClient(url, teams_identifier, teams_secret, **transport_options)

    async def __aenter__(self) -> SplitHubClient:
        await super().__aenter__()
        try:
            await self.teams.__aenter__()
        except BaseException:
            await self.transport.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.teams.__aexit__(exc_type, exc, tb)
        finally:
            await super().__aexit__(exc_type, exc, tb)

    async def groups_list(self, org: str) -> tuple[Team, ...]:
        return await self.teams.groups_list(org)


async def describe_split(client: SplitHubClient) -> tuple[bool, str]:
    """(ok, message) for ``doctor``: sign the team credential in and say who does what."""
    try:
        await client.teams.login()
    except HubApiError as exc:
        return False, f"the team-listing credential (target.hub.teams_token) cannot sign in: {exc}"
    kind = client.teams.credential_kind
    note = (
        ""
        if kind is CredentialKind.OAT
        else f"; it is a {kind}, not an organization access token: is it the right one?"
    )
    return True, (
        f"two credentials: {client.identifier!r} ({client.credential_kind}) manages IAM "
        f"settings, repositories and team grants; {client.teams.identifier!r} ({kind}) is used "
        f"only to list the org's teams{note}"
    )
