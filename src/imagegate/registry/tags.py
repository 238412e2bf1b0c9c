"""The tag list of a repository: every page, bounded (pages, tags, tag length), a loop or a
list that does not end is an error. ``RegistryClient.tag_list`` delegates here."""

from __future__ import annotations

import json
import logging

from imagegate.domain.reference import Reference
from imagegate.errors import RegistryResponseError
from imagegate.registry.origins import NEXT_PAGE
from imagegate.registry.transport import Transport
from imagegate.registry.wire import next_link, repo_request

MAX_TAG_PAGES = 2_000  # a registry that paginates further is broken or hostile: an error
MAX_TAGS = 200_000  # tags in one repository's list, all pages together: beyond, an error
MAX_TAG_LENGTH = 128  # OCI: a longer "tag" is not one; it is dropped (debug log)

log = logging.getLogger("imagegate.registry.client")


async def tag_list(
    transport: Transport,
    repo: Reference,
    *,
    page_size: int | None = None,
    max_pages: int = MAX_TAG_PAGES,
    max_tags: int = MAX_TAGS,
) -> list[str]:
    """All tags, following ``Link: <...>; rel="next"``; ``page_size`` sets ``?n=``.

    A list that does not end is an error (RegistryResponseError naming the repository):
    a next page seen before (a loop), more than ``max_pages`` pages or ``max_tags`` tags.
    """
    target = f"/v2/{repo.repository}/tags/list" + (f"?n={page_size}" if page_size else "")
    tags: list[str] = []
    seen: set[str] = set()
    for _ in range(max_pages):
        req = repo_request("GET", repo, target, what=f"tag list of {repo.name}")
        resp = await transport.fetch(req)
        tags.extend(_tags_from(resp.body, repo.name))
        if len(tags) > max_tags:
            raise _endless(repo, f"it has more than {max_tags} tags")
        link = next_link(resp)
        if link is None:
            return tags
        seen.add(str(resp.url))
        target = transport.follow(
            repo.wire_host,
            resp.url,
            link,
            kind=NEXT_PAGE,
            what=req.what,
            status=resp.status,
            method="GET",
        )
        if target in seen:
            raise _endless(repo, "its pages link back to a page already read (a loop)")
        seen.add(target)
    raise _endless(repo, f"it goes on past {max_pages} pages")


def _endless(repo: Reference, why: str) -> RegistryResponseError:
    return RegistryResponseError(
        f"tag list of {repo.name}: registry {repo.registry} sent a tag list that does not "
        f"end ({why}); the registry is broken or hostile: ask its operator, or list the "
        "tags to mirror explicitly",
        status=200,
    )


def _tags_from(body: bytes, name: str) -> list[str]:
    try:
        doc = json.loads(body)
    except ValueError:
        raise RegistryResponseError(
            f"tag list of {name}: the registry answered with something that is not JSON",
            status=200,
        ) from None
    tags = doc.get("tags") if isinstance(doc, dict) else None
    if not isinstance(tags, list):
        return []
    out = [str(t) for t in tags]
    kept = [t for t in out if len(t) <= MAX_TAG_LENGTH]
    if len(kept) != len(out):
        log.debug(
            "ignored tags longer than the OCI limit",
            extra={"repository": name, "count": len(out) - len(kept), "limit": MAX_TAG_LENGTH},
        )
    return kept
