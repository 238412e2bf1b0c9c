"""SIGKILL `python -m imagegate sync` at random moments, then run it again.

After every kill: no target tag points to incomplete content and the state database opens
cleanly. After the final run: the target holds exactly what a clean run gives, and the audit
log has each tag's copied event exactly once for its final digest, with contiguous ids.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.faults import assert_tags_complete
from tests.support.images import BuiltIndex, ImageFactory
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import push_tags, write_allowlist

REPOS = ("crash/app0", "crash/app1")
TAGS = ("1.0", "2.0")
LAYER = 1024 * 1024  # each image: 3 layers of 1 MiB (a shared base and one per platform)
BLOB_STALL = 0.05  # seconds added to each source blob GET, so that a run lasts a while


@dataclass
class CrashWorld:
    target: Pusher
    target_proxy: RegistryProxy
    cfg: Path
    db: Path
    images: dict[tuple[str, str], BuiltIndex]
    images_source_url: str

    @property
    def target_repos(self) -> list[str]:
        return [target_repo(r) for r in REPOS]


def target_repo(source_repo: str) -> str:
    return "mirror/" + source_repo.rsplit("/", maxsplit=1)[-1]


def repo_of(image: str) -> str:
    """Events name the image as ``host:port/namespace/name``; the repository part."""
    first, _, rest = image.partition("/")
    return rest if rest and (":" in first or "." in first) else image


def _slow_blobs(req: ProxyRequest) -> Fault | None:
    return Fault.delay(BLOB_STALL) if req.method == "GET" and "/blobs/sha256:" in req.path else None


@pytest.fixture
def crash_world(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    make_proxy: Callable[..., RegistryProxy],
    tmp_path: Path,
    image_factory: ImageFactory,
) -> CrashWorld:
    src_proxy = make_proxy(source_registry.url, fault=_slow_blobs)
    dst_proxy = make_proxy(target_registry.url)
    up = Pusher(source_registry.url)
    images = push_tags(
        up,
        dict.fromkeys(REPOS, TAGS),
        lambda: image_factory.multiarch(platforms=("linux/amd64", "linux/arm64"), layer_size=LAYER),
    )
    entries = "".join(
        f"- source: {src_proxy.host}/{r}\n  tags: {json.dumps(list(TAGS))}\n" for r in REPOS
    )
    db = tmp_path / "state.db"
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml", target=dst_proxy.host, namespace="mirror", images=entries
    )
    return CrashWorld(Pusher(target_registry.url), dst_proxy, cfg, db, images, source_registry.url)


def start_sync(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "imagegate", "sync", "-c", str(cfg), "--output", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def run_sync(cfg: Path) -> tuple[int, str, str]:
    proc = start_sync(cfg)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), err.decode()


def integrity(db: Path) -> str:
    if not db.exists():
        return "ok"  # killed before the database was created
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def check_final(world: CrashWorld) -> list[tuple[object, ...]]:
    """The converged state: exact content, clean database, every event exactly once."""
    for (repo, tag), img in world.images.items():
        world.target.assert_image(target_repo(repo), tag, img)
    for repo in world.target_repos:
        tags = [t for t in world.target.list_tags(repo) if "--prev-" not in t]
        assert sorted(tags) == sorted(TAGS)
    assert_tags_complete(world.target, world.target_repos)
    assert integrity(world.db) == "ok"
    conn = sqlite3.connect(world.db)
    try:
        events = conn.execute(
            "SELECT id, kind, image, tag, digest FROM events ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    ids = [e[0] for e in events]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "event ids are not contiguous"
    mirrored = Counter(
        (repo_of(image), tag, digest)
        for _id, kind, image, tag, digest in events
        if kind in ("copied", "updated")
    )
    dupes = {k: n for k, n in mirrored.items() if n != 1}
    assert not dupes, f"duplicated events: {dupes}"
    for (repo, tag), img in world.images.items():
        key = (target_repo(repo), tag, img.digest)
        assert mirrored[key] == 1, f"no event for the final digest of {key}"
    return events


def kill_mid_run(world: CrashWorld, after_requests: int, extra: float) -> str:
    """Start a sync; SIGKILL it once the target has seen ``after_requests`` more requests
    (plus ``extra`` seconds). Returns "killed" or "finished"."""
    base = len(world.target_proxy.requests)
    proc = start_sync(world.cfg)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if len(world.target_proxy.requests) >= base + after_requests:
            time.sleep(extra)
            break
        time.sleep(0.005)
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return "finished" if finished else "killed"


ROUNDS = 5


def test_sigkill_at_random_moments_then_converge(crash_world, image_factory):
    """Five runs killed at random points of their progress; between runs upstream moves two
    tags, so every run has copies and updates (with backup tags) to do."""
    world = crash_world
    up = Pusher(world.images_source_url)
    rng = random.Random(6)
    outcomes = []
    for rnd in range(ROUNDS):
        if rnd:
            for repo, tag in rng.sample(sorted(world.images), 2):
                img = image_factory.multiarch(
                    platforms=("linux/amd64", "linux/arm64"), layer_size=LAYER
                )
                up.push_image(repo, tag, img)
                world.images[(repo, tag)] = img
        outcomes.append(kill_mid_run(world, rng.randint(1, 30), rng.uniform(0, 0.05)))
        # at this moment: whatever the target holds is complete, and the database is sound
        assert_tags_complete(world.target, world.target_repos)
        assert integrity(world.db) == "ok"
    assert outcomes.count("killed") >= ROUNDS - 1, outcomes
    code, out, err = run_sync(world.cfg)
    assert code == 0, err
    assert "Traceback" not in err
    assert json.loads(out)["failed"] == 0
    check_final(world)


def test_killed_after_the_tag_moved_but_before_the_state_commit(crash_world):
    """The narrowest window: the target tag is written, the process dies before it can record
    the tag and its event. The next run must record it (once), not lose the event.

    The process is frozen (SIGSTOP) when its first tag PUT reaches the proxy; the PUT is
    forwarded; once the registry has the tag, the frozen process is SIGKILLed, so it never
    saw the answer."""
    world = crash_world
    holder: list[subprocess.Popen[bytes]] = []
    first_tag_put: list[str] = []

    def freeze_on_first_tag_put(req: ProxyRequest) -> Fault | None:
        is_tag_put = req.method == "PUT" and "/manifests/" in req.path
        if is_tag_put and "sha256:" not in req.path and not first_tag_put:
            first_tag_put.append(req.path)
            holder[0].send_signal(signal.SIGSTOP)
        return None

    world.target_proxy.fault = freeze_on_first_tag_put
    proc = start_sync(world.cfg)
    holder.append(proc)
    deadline = time.monotonic() + 60
    while not first_tag_put and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert first_tag_put, "the run ended without writing a tag"
    repo, tag = first_tag_put[0].removeprefix("/v2/").split("/manifests/")
    while world.target.head_manifest(repo, tag) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    world.target_proxy.fault = None
    assert proc.returncode == -signal.SIGKILL
    # the tag reached the target, complete, but the dead process never recorded it
    assert world.target.head_manifest(repo, tag) is not None
    assert_tags_complete(world.target, world.target_repos)
    conn = sqlite3.connect(world.db)
    try:
        recorded = conn.execute(
            "SELECT count(*) FROM events WHERE kind = 'copied' AND image = ? AND tag = ?",
            (f"{world.target_proxy.host}/{repo}", tag),
        ).fetchone()[0]
    finally:
        conn.close()
    assert recorded == 0

    code, _out, err = run_sync(world.cfg)
    assert code == 0, err
    check_final(world)
    # and a further run adds no mirrored events
    code, _out, err = run_sync(world.cfg)
    assert code == 0, err
    check_final(world)
