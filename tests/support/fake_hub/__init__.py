"""A test double of Docker Hub: the Hub API and the registry token service (auth.docker.io).

Built from /work/shared/reference/docker-hub-api.md; see docs/testing-hub.md for how to use it.
"""

from tests.support.fake_hub.access import ANONYMOUS, Principal, iam_blocks, registry_actions
from tests.support.fake_hub.model import HubModel, Oat, OatResource, Org, Repository, Team, User
from tests.support.fake_hub.server import FakeHub
from tests.support.fake_hub.state import RequestRecord, TokenGrant

__all__ = [
    "ANONYMOUS",
    "FakeHub",
    "HubModel",
    "Oat",
    "OatResource",
    "Org",
    "Principal",
    "Repository",
    "RequestRecord",
    "Team",
    "TokenGrant",
    "User",
    "iam_blocks",
    "registry_actions",
]
