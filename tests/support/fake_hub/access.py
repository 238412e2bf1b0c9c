"""Who may do what: the permission model of the Docker Hub double, as pure functions.

Sections (§) refer to /work/shared/reference/docker-hub-api.md. Roles (§4 "Org roles"):
owners do everything and bypass IAM; editors create/edit/delete repositories and assign team
permissions; members reach org repositories only through team permissions (read -> pull,
write -> push, admin -> repository settings). PAT scopes (§1) cap what a user may do; OATs
(§1 "OAT scope values") carry explicit resources and scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tests.support.fake_hub.model import (
    PAT_SCOPE_RANK,
    PERMISSION_RANK,
    HubModel,
    OatResource,
    Org,
    Repository,
)

Kind = Literal["anonymous", "password", "pat", "oat"]

NONE, READ, WRITE, ADMIN = 0, 1, 2, 3

PAT_FORBIDDEN = "access is forbidden with a JWT issued from a personal access token"
OAT_LEGACY_FORBIDDEN = "token issued from organization access token is not allowed"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a user (by password or PAT), an org (by OAT), or nobody."""

    kind: Kind
    name: str = ""  # username, or the org name for an OAT
    pat_scope: str | None = None
    oat_resources: tuple[OatResource, ...] = ()

    @property
    def who(self) -> str:
        return "anonymous" if self.kind == "anonymous" else f"{self.name} ({self.kind})"

    @property
    def is_user(self) -> bool:
        return self.kind in ("password", "pat")


ANONYMOUS = Principal("anonymous")


# ---- roles and levels ----------------------------------------------------------------------


def role_in(model: HubModel, p: Principal, org: str) -> str | None:
    """The user's role in ``org`` (owner/editor/member), or None."""
    o = model.orgs.get(org)
    if o is None or not p.is_user:
        return None
    return o.members.get(p.name)


def _cap_by_pat(p: Principal, level: int, repo: Repository) -> int:
    if p.kind != "pat":
        return level
    rank = PAT_SCOPE_RANK[p.pat_scope or "repo:public_read"]
    if rank == 0:  # repo:public_read: public repositories, read only
        return min(level, READ) if not repo.is_private else NONE
    return min(level, rank)


def user_repo_level(model: HubModel, p: Principal, repo: Repository) -> int:
    """0..3 (none, read, write, admin) for a user principal, PAT scope applied."""
    level = NONE if repo.is_private else READ
    if repo.namespace == p.name:
        level = ADMIN
    org = model.orgs.get(repo.namespace)
    if org is not None and p.name in org.members:
        role = org.members[p.name]
        if role in ("owner", "editor"):
            level = ADMIN
        else:
            for team in model.teams_of(org.name, p.name):
                perm = repo.team_permissions.get(team.id)
                if perm is not None:
                    level = max(level, PERMISSION_RANK[perm])
    return _cap_by_pat(p, level, repo)


def _path_matches(pattern: str, repo: Repository | None, full_name: str) -> bool:
    if pattern == "*/*/public":  # §1: all public repositories
        return repo is not None and not repo.is_private
    ns, _, name = pattern.partition("/")
    rns, _, rname = full_name.partition("/")
    return ns == rns and name in ("*", rname)


def oat_repo_scopes(p: Principal, repo: Repository | None, full_name: str) -> set[str]:
    """Union of the scopes of the OAT's TYPE_REPO resources that cover ``full_name``."""
    out: set[str] = set()
    for res in p.oat_resources:
        if res.type == "TYPE_REPO" and _path_matches(res.path, repo, full_name):
            out.update(res.scopes)
    return out


def oat_org_scopes(p: Principal, org: str) -> set[str]:
    out: set[str] = set()
    if p.kind == "oat" and p.name == org:
        for res in p.oat_resources:
            if res.type == "TYPE_ORG" and res.path in (org, f"{org}/*"):
                out.update(res.scopes)
    return out


# ---- Hub API decisions ---------------------------------------------------------------------


def can_view_repo(model: HubModel, p: Principal, repo: Repository) -> bool:
    if not repo.is_private:
        return True
    if p.kind == "oat":
        scopes = oat_repo_scopes(p, repo, repo.full_name) | oat_org_scopes(p, repo.namespace)
        return bool(
            scopes
            & {
                "scope-repository-read",
                "scope-repository-edit",
                "scope-repository-admin",
                "scope-repository-list",
            }
        )
    return p.is_user and user_repo_level(model, p, repo) >= READ


def can_list_private(model: HubModel, p: Principal, namespace: str) -> bool:
    """§1: an OAT without scope-repository-list sees only public repositories (still 200)."""
    if p.kind == "oat":
        return "scope-repository-list" in oat_org_scopes(p, namespace)
    return p.is_user


def can_edit_repo(model: HubModel, p: Principal, repo: Repository) -> bool:
    """Description, full description, status and privacy (§1 capability matrix)."""
    if p.kind == "oat":
        return "scope-repository-edit" in oat_repo_scopes(p, repo, repo.full_name)
    return p.is_user and user_repo_level(model, p, repo) >= ADMIN


def can_create_repo(model: HubModel, p: Principal, namespace: str) -> bool:
    """Owners and editors of an org, or a user in their own namespace; PATs need repo:admin
    (§1 matrix: "Read, Write, Delete"); OATs need the org scope scope-repository-create."""
    if p.kind == "oat":
        return "scope-repository-create" in oat_org_scopes(p, namespace)
    if not p.is_user or (p.kind == "pat" and p.pat_scope != "repo:admin"):
        return False
    return namespace == p.name or role_in(model, p, namespace) in ("owner", "editor")


def can_manage_repo_teams(model: HubModel, p: Principal, repo: Repository, *, write: bool) -> bool:
    """§1 matrix: a "Read, Write, Delete" PAT of an editor or owner, a password, or an OAT
    with scope-repo-group-edit (scope-repo-group-read to list)."""
    if p.kind == "oat":
        scopes = oat_repo_scopes(p, repo, repo.full_name)
        wanted = {"scope-repo-group-edit", "scope-repo-group-admin"}
        return bool(scopes & (wanted if write else wanted | {"scope-repo-group-read"}))
    if not p.is_user or (p.kind == "pat" and p.pat_scope != "repo:admin"):
        return False
    return role_in(model, p, repo.namespace) in ("owner", "editor")


# ---- registry token service ----------------------------------------------------------------


def _iam_allows(model: HubModel, org: Org, full_name: str) -> bool:
    """§5 IAM semantics: the org's own images always pass; Official and Verified Publisher
    images per the settings; Community images (badge none, and DSOS/open_source, §0 fact 3)
    are blocked."""
    if full_name.partition("/")[0] == org.name:
        return True
    badge = model.badge_of(full_name)
    if badge == "official":
        return org.iam.allow_official_images
    if badge == "verified_publisher":
        return org.iam.allow_verified_publishers
    return False


def iam_blocks(model: HubModel, p: Principal, full_name: str) -> str | None:
    """The name of the org whose IAM blocks this pull, or None. Owners bypass IAM (§0 fact
    3); editors and members do not. An OAT is bound by its own org's IAM [I]."""
    if p.kind == "oat":
        org = model.orgs.get(p.name)
        if org is not None and org.iam.enabled and not _iam_allows(model, org, full_name):
            return org.name
        return None
    if not p.is_user:
        return None
    for org in model.orgs.values():
        role = org.members.get(p.name)
        if role is None or role == "owner" or not org.iam.enabled:
            continue
        if not _iam_allows(model, org, full_name):
            return org.name
    return None


def may_auto_create(model: HubModel, p: Principal, namespace: str) -> bool:
    """Whether a push may create a missing repository (§0 fact 5)."""
    if p.kind == "oat":
        return "scope-image-push" in oat_repo_scopes(p, None, f"{namespace}/*")
    if not p.is_user or (p.kind == "pat" and PAT_SCOPE_RANK[p.pat_scope or ""] < 2):
        return False
    return namespace == p.name or role_in(model, p, namespace) in ("owner", "editor")


def registry_actions(
    model: HubModel, p: Principal, full_name: str, requested: frozenset[str]
) -> frozenset[str]:
    """Granted = requested ∩ allowed (§8 "Token response"), IAM enforced on pull."""
    repo = model.repos.get(full_name)
    allowed: set[str] = set()
    if repo is None:
        # A missing repository: as on Docker Hub, nothing is granted (the registry answers
        # 401 insufficient_scope, not 404), except to those who may create it there by a
        # push (§0 fact 5): they get pull and push.
        if may_auto_create(model, p, full_name.partition("/")[0]):
            allowed.update({"pull", "push", "delete"} if p.kind != "pat" else {"pull", "push"})
    elif p.kind == "oat":
        scopes = oat_repo_scopes(p, repo, full_name)
        mapping = {
            "scope-image-pull": "pull",
            "scope-image-push": "push",
            "scope-image-delete": "delete",
        }
        allowed.update(a for s, a in mapping.items() if s in scopes)
        if "push" in allowed:
            allowed.add("pull")
    else:
        level = READ if not repo.is_private else NONE
        if p.is_user:
            level = user_repo_level(model, p, repo)
        allowed.update(("pull", "push", "delete")[:level])
    if "pull" in allowed and iam_blocks(model, p, full_name) is not None:
        allowed.discard("pull")
    return frozenset(allowed) & requested
