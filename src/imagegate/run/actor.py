"""Who decided: the name written with a decision, a run and every audit event.

In a container the OS user is ``root`` for everyone, so it is the last resort. In order:
``--by``; ``IMAGEGATE_ACTOR``; the CI system's variable naming who triggered the job
(GitHub Actions, GitLab CI, Buildkite, CircleCI, Azure Pipelines, Jenkins); the Docker Hub
account of ``target.hub.username`` (not for an organization access token, whose username is
the organization); the OS user.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping

from imagegate.domain.allowlist import Config

ACTOR_VARIABLES = (
    "IMAGEGATE_ACTOR",
    "GITHUB_ACTOR",  # GitHub Actions
    "GITLAB_USER_LOGIN",  # GitLab CI
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "BUILD_REQUESTEDFOR",  # Azure Pipelines
    "BUILD_USER_ID",  # Jenkins (build-user-vars plugin)
)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def actor_for(
    config: Config | None, by: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    if by:
        return by
    environ = os.environ if env is None else env
    for name in ACTOR_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value[:200]
    hub = config.target.hub if config is not None else None
    if config is not None and hub is not None and hub.username:
        oat = hub.token is not None and hub.token.reveal().startswith("dckr_oat_")
        if not oat and hub.username != config.target.namespace:
            return hub.username
    return os_user()
