"""`imagegate sync` through a fault-injecting proxy: it completes exactly, or fails the affected
images clearly; no target tag ever points to incomplete content; flipped bytes never land.

Every run is followed by a clean run that must converge. See docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imagegate.cli.main import main
from tests.support.faults import (
    FaultPlan,
    FaultRates,
    Injected,
    assert_tags_complete,
    incomplete_tags,
)
from tests.support.images import BuiltIndex, ImageFactory, sha256_digest
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import push_tags, write_allowlist

REPOS = ("team/app0", "team/app1", "team/app2")
TAGS = ("1.0", "2.0")
LAYER = 6 * 1024  # big enough that every flip/truncate offset (< 512) lands in a layer


@dataclass
class World:
    source: Pusher
    target: Pusher
    src_proxy: RegistryProxy
    dst_proxy: RegistryProxy | None
    cfg: Path
    images: dict[tuple[str, str], BuiltIndex]

    def target_repo(self, source_repo: str) -> str:
        return "mirror/" + source_repo.rsplit("/", maxsplit=1)[-1]

    @property
    def target_repos(self) -> list[str]:
        return [self.target_repo(r) for r in REPOS]

    def blob(self, digest: str) -> bytes:
        for img in self.images.values():
            if digest in img.blobs:
                return img.blobs[digest]
        raise KeyError(digest)


def build_world(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    make_proxy: Callable[..., RegistryProxy],
    tmp_path: Path,
    factory: ImageFactory,
    *,
    proxy_target: bool = False,
) -> World:
    src_proxy = make_proxy(source_registry.url)
    dst_proxy = make_proxy(target_registry.url) if proxy_target else None
    up = Pusher(source_registry.url)
    images = push_tags(
        up,
        dict.fromkeys(REPOS, TAGS),
        lambda: factory.multiarch(platforms=("linux/amd64", "linux/arm64"), layer_size=LAYER),
    )
    target_host = dst_proxy.host if dst_proxy else target_registry.host
    entries = "".join(
        f"- source: {src_proxy.host}/{repo}\n  tags: {json.dumps(list(TAGS))}\n" for repo in REPOS
    )
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml", target=target_host, namespace="mirror", images=entries
    )
    return World(up, Pusher(target_registry.url), src_proxy, dst_proxy, cfg, images)


@pytest.fixture(autouse=True)
def quiet_proxy_server() -> Iterator[None]:
    """The proxy's own aiohttp server logs the connections it aborts on purpose; keep that
    out of the stderr that is checked for imagegate's tracebacks."""
    logger = logging.getLogger("aiohttp.server")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.fixture
def world(source_registry, target_registry, make_proxy, tmp_path, image_factory) -> World:
    return build_world(source_registry, target_registry, make_proxy, tmp_path, image_factory)


def sync(capsys: pytest.CaptureFixture[str], cfg: Path) -> tuple[int, dict[str, Any], str]:
    code = main(["sync", "-c", str(cfg), "--output", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, (json.loads(out) if out.strip() else {}), err


def repo_of(image: str) -> str:
    """A failure names the image as ``host/namespace/name``; the repository part."""
    first, _, rest = image.partition("/")
    return rest if rest and (":" in first or "." in first) else image


def check_outcome(world: World, code: int, summary: dict[str, Any]) -> set[str]:
    """The invariants after a run under faults; returns the target repos that failed."""
    assert code in (0, 1), summary
    failures = summary["failures"]
    assert isinstance(failures, list)
    assert (code == 1) == bool(failures)
    failed = {repo_of(f["image"]) for f in failures}
    for f in failures:
        assert f["error"] and "\n" not in f["error"], f  # one clear line per failure
        assert repo_of(f["image"]) in world.target_repos, f
    # Images that did not fail are exact copies.
    for (repo, tag), img in world.images.items():
        if world.target_repo(repo) not in failed:
            world.target.assert_image(world.target_repo(repo), tag, img)
    # No tag anywhere on the target points at missing or corrupt content.
    assert_tags_complete(world.target, world.target_repos)
    return failed


def check_flips(world: World, plan: FaultPlan, failed: set[str]) -> int:
    """Each flipped blob: its image failed with a digest error; the damaged bytes never landed."""
    landed = 0
    for flip in plan.flips():
        damaged = flip.damaged(world.blob(flip.digest))
        if damaged is None:
            continue  # offset past the end of a small config blob: nothing was flipped
        bad = sha256_digest(damaged)
        for repo in world.target_repos:
            assert not world.target.blob_exists(repo, bad), f"damaged blob landed in {repo}"
        assert world.target_repo(flip.repo) in failed, f"flip in {flip.repo} went unnoticed"
        landed += 1
    return landed


def converge(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, err = sync(capsys, world.cfg)
    assert code == 0, (summary, err)
    for (repo, tag), img in world.images.items():
        world.target.assert_image(world.target_repo(repo), tag, img)
    assert_tags_complete(world.target, world.target_repos)
    assert main(["plan", "-c", str(world.cfg), "--detailed-exitcode"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_sync_through_a_faulty_source(world, capsys, seed):
    plan = FaultPlan(seed)
    world.src_proxy.fault = plan
    code, summary, _ = sync(capsys, world.cfg)
    world.src_proxy.fault = None
    assert plan.total > 0, "the seed injected nothing: the test proves nothing"
    failed = check_outcome(world, code, summary)
    check_flips(world, plan, failed)
    converge(world, capsys)


@pytest.mark.parametrize("seed", [21, 22])
def test_sync_with_both_registries_faulty(
    source_registry, target_registry, make_proxy, tmp_path, image_factory, capsys, seed
):
    world = build_world(
        source_registry, target_registry, make_proxy, tmp_path, image_factory, proxy_target=True
    )
    src_plan = FaultPlan(seed, rates=FaultRates(flip=0.0))
    dst_plan = FaultPlan(seed + 1000, rates=FaultRates(flip=0.0, truncate=0.0))
    world.src_proxy.fault = src_plan
    assert world.dst_proxy is not None
    world.dst_proxy.fault = dst_plan
    code, summary, _ = sync(capsys, world.cfg)
    world.src_proxy.fault = world.dst_proxy.fault = None
    assert src_plan.total + dst_plan.total > 0
    check_outcome(world, code, summary)
    converge(world, capsys)


def test_flipped_byte_is_a_digest_mismatch_and_never_pushed(world, capsys):
    repo, tag = REPOS[1], TAGS[0]
    img = world.images[(repo, tag)]
    layer = max(img.blobs, key=lambda d: len(img.blobs[d]))
    plan = FaultPlan(0, rates=FaultRates(0, 0, 0, 0, 0, flip=1.0), path_contains=f"/blobs/{layer}")
    world.src_proxy.fault = plan
    code, summary, _ = sync(capsys, world.cfg)
    world.src_proxy.fault = None
    assert code == 1
    failures = summary["failures"]
    assert [(repo_of(f["image"]), f["tag"]) for f in failures] == [(world.target_repo(repo), tag)]
    assert "does not match the expected" in failures[0]["error"]
    assert layer in failures[0]["error"]
    # the blob GET was not retried after the mismatch, and nothing corrupt reached the target
    assert [i.kind for i in plan.injected] == ["flip"]
    assert check_flips(world, plan, {world.target_repo(repo)}) == 1
    dst = world.target_repo(repo)
    assert not world.target.blob_exists(dst, layer)
    assert world.target.head_manifest(dst, tag) is None
    # the other tag of that image and the other images went through
    world.target.assert_image(dst, TAGS[1], world.images[(repo, TAGS[1])])
    check_outcome(world, code, summary)
    converge(world, capsys)


def test_truncated_bodies_and_resets_are_retried_to_completion(world, capsys):
    # The first three blob GETs are cut off and the first two manifest PUTs never answered:
    # every one is retried and the run succeeds.
    cut = FaultPlan(
        1,
        rates=FaultRates(0, 0, 0, 0, truncate=1.0, flip=0),
        methods=frozenset({"GET"}),
        path_contains="/blobs/",
        max_faults=3,
    )
    world.src_proxy.fault = cut
    code, summary, err = sync(capsys, world.cfg)
    assert code == 0, (summary, err)
    assert cut.counts() == {"truncate": 3}
    converge(world, capsys)


def test_a_source_that_keeps_failing_fails_only_its_image(world, capsys):
    broken = REPOS[0]

    def always_503(req: ProxyRequest) -> Fault | None:
        if f"/v2/{broken}/" in req.path:
            return Fault.status_code(503, retry_after=0)
        return None

    world.src_proxy.fault = always_503
    code, summary, _ = sync(capsys, world.cfg)
    world.src_proxy.fault = None
    assert code == 1
    failures = summary["failures"]
    assert {repo_of(f["image"]) for f in failures} == {world.target_repo(broken)}
    assert all("503" in f["error"] or "unavailable" in f["error"].lower() for f in failures)
    # retried (4 attempts per request), then given up
    assert world.src_proxy.count(None, f"/v2/{broken}/") >= 4
    assert world.target.list_tags(world.target_repo(broken)) == []
    check_outcome(world, code, summary)
    converge(world, capsys)


def test_fault_plan_is_reproducible_whatever_the_arrival_order():
    def requests(order: Sequence[int]) -> list[ProxyRequest]:
        paths = [f"/v2/a/blobs/sha256:{i:064x}" for i in range(60)]
        return [ProxyRequest(n, "GET", paths[i], "", ()) for n, i in enumerate(order)]

    forward = list(range(60)) * 3
    backward = list(reversed(forward))
    a, b = FaultPlan(7), FaultPlan(7)
    for req in requests(forward):
        a(req)
    for req in requests(backward):
        b(req)

    def key(i: Injected) -> tuple[str, str, int | None]:
        return (i.path, i.kind, i.offset)

    assert sorted(map(key, a.injected)) == sorted(map(key, b.injected))
    assert a.total > 10  # ~25% of 180 requests
    assert FaultPlan(8).total == 0 and sorted(map(key, a.injected)) != sorted(
        map(key, _run(FaultPlan(8), requests(forward)))
    )


def _run(plan: FaultPlan, reqs: Sequence[ProxyRequest]) -> list[Injected]:
    for r in reqs:
        plan(r)
    return plan.injected


def test_incomplete_content_is_detected_by_the_oracle(registry, pusher, image_factory):
    """The oracle itself: a tag whose child lost a blob is reported."""
    img = image_factory.multiarch(platforms=("linux/amd64",))
    pusher.push_image("team/broken", "1", img)
    assert incomplete_tags(pusher, ["team/broken"]) == []
    child = img.children[0]
    layer = json.loads(child.data)["layers"][0]["digest"]
    # delete the layer's blob from the storage: the tag now points at incomplete content
    blob_dir = Path(registry.storage) / "docker/registry/v2/blobs/sha256" / layer[7:9] / layer[7:]
    for f in blob_dir.iterdir():
        f.unlink()
    problems = incomplete_tags(pusher, ["team/broken"])
    assert len(problems) == 1 and layer in problems[0]
