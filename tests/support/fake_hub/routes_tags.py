"""Hub tag metadata (§3), read live from a real registry the double is attached to.

``FakeHub.serve_tags_from(registry_url, service)`` makes ``GET /v2/namespaces/{ns}/
repositories/{repo}/tags[/{tag}]`` list the registry's tags with the digest the tag points to
(``tag.digest``), its media type and, for an index, one ``images[]`` entry per platform.
Sections (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.fake_hub import web as w
from tests.support.fake_hub.access import can_view_repo
from tests.support.fake_hub.model import Repository
from tests.support.fake_hub.state import STATE, HubState
from tests.support.tokens import Access

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


def _repo(state: HubState, request: web.Request) -> Repository:
    p = state.principal(request, required=False)  # anonymous works for public repos (§3)
    repo = state.model.repos.get(f"{request.match_info['ns']}/{request.match_info['repo']}")
    if repo is None or not can_view_repo(state.model, p, repo):
        raise w.not_found("object not found")
    if state.tag_source is None:
        raise w.not_found("FakeHub.serve_tags_from() was not called: no tag metadata")
    return repo


async def _get(session: aiohttp.ClientSession, state: HubState, repo: str, path: str) -> Any:
    assert state.tag_source is not None and state.authority is not None
    url, service = state.tag_source
    token = state.authority.sign(
        "fake-hub", [Access("repository", repo, ("pull",))], audience=service
    )
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
    async with session.get(f"{url}/v2/{repo}/{path}", headers=headers) as resp:
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise w.message(502, f"registry answered {resp.status} for {path}")
        body = await resp.read()
        return {
            "digest": resp.headers.get("Docker-Content-Digest", ""),
            "media_type": resp.headers.get("Content-Type", ""),
            "size": len(body),
            "doc": json.loads(body),
        }


async def _tag_json(
    session: aiohttp.ClientSession, state: HubState, repo: Repository, tag: str
) -> dict[str, Any] | None:
    got = await _get(session, state, repo.full_name, f"manifests/{tag}")
    if got is None:
        return None
    doc = got["doc"]
    images: list[dict[str, Any]] = []
    if "manifests" in doc:
        for child in doc["manifests"]:
            platform = child.get("platform", {})
            images.append(
                {
                    "architecture": platform.get("architecture", ""),
                    "variant": platform.get("variant"),
                    "os": platform.get("os", ""),
                    "digest": child["digest"],
                    "size": child.get("size", 0),
                    "status": "active",
                    "last_pulled": None,
                    "last_pushed": repo.last_updated,
                }
            )
    else:
        config = await _get(session, state, repo.full_name, f"blobs/{doc['config']['digest']}")
        cfg = config["doc"] if config else {}
        images.append(
            {
                "architecture": cfg.get("architecture", ""),
                "variant": cfg.get("variant"),
                "os": cfg.get("os", ""),
                "digest": got["digest"],
                "size": sum(layer.get("size", 0) for layer in doc.get("layers", [])),
                "status": "active",
                "last_pulled": None,
                "last_pushed": repo.last_updated,
            }
        )
    return {
        "id": abs(hash((repo.full_name, tag))) % 10**9,
        "creator": 0,
        "name": tag,
        "repository": repo.id,
        "v2": True,  # a boolean in real responses (§3 spec errata)
        "last_updated": repo.last_updated,
        "last_updater": 0,
        "last_updater_username": repo.namespace,
        "full_size": sum(i["size"] for i in images),
        "tag_status": "active",
        "tag_last_pulled": None,
        "tag_last_pushed": repo.last_updated,
        "media_type": got["media_type"],
        "content_type": "image",
        "digest": got["digest"],
        "images": images,  # an array, not the object S1 declares (§3)
    }


async def list_tags(request: web.Request) -> web.Response:
    """GET/HEAD /v2/namespaces/{ns}/repositories/{repo}/tags (§3): page_size max 100."""
    state = request.app[STATE]
    repo = _repo(state, request)
    async with aiohttp.ClientSession() as session:
        listed = await _get(session, state, repo.full_name, "tags/list")
        names = sorted((listed or {"doc": {}})["doc"].get("tags") or [])
        if request.method == "HEAD":
            return web.Response(status=200 if names else 404)
        page = w.paginate(request, state.base_url, names)
        tags = [await _tag_json(session, state, repo, name) for name in page["results"]]
    page["results"] = [t for t in tags if t is not None]
    return w.json_response(page)


async def get_tag(request: web.Request) -> web.Response:
    """GET/HEAD /v2/namespaces/{ns}/repositories/{repo}/tags/{tag} (§3)."""
    state = request.app[STATE]
    repo = _repo(state, request)
    async with aiohttp.ClientSession() as session:
        tag = await _tag_json(session, state, repo, request.match_info["tag"])
    if tag is None:
        raise w.not_found("tag not found")
    return w.json_response(tag)
