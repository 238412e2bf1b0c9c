"""Hostile registries and input: every run ends in bounded time with a clear error.

The source (and, for the upload stall, the target) is tests.support.slow_registry: a server of
our own that trickles bodies, never answers, nests indexes or paginates forever. Limits are
set small in the allowlist (``registries.<host>``) so each case fails in seconds; the pytest
timeout and the generous deadlines only catch hangs.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.slow_registry import SlowRegistry
from tests.support.world import cli, write_allowlist

DEADLINE = 60.0  # seconds: far above what each case needs (a few seconds); catches hangs


@pytest.fixture
def bad() -> Iterator[SlowRegistry]:
    with SlowRegistry(interval=0.2) as server:
        yield server


def _config(tmp_path: Path, source: SlowRegistry, target: str, tags: str, limits: str = "") -> Path:
    extra = f'registries:\n  "{source.host}": {{{limits}}}\n' if limits else ""
    return write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target,
        images=f"- source: {source.host}/hostile/app\n  tags: {tags}\n",
        extra=extra,
    )


def _timed(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, float]:
    start = time.monotonic()
    code, out, err = cli(capsys, *args)
    return code, out + err, time.monotonic() - start


def test_slow_loris_manifest_fails_within_request_timeout(
    bad: SlowRegistry, target_registry, tmp_path, capsys
):
    bad.add_image("hostile/app", "1.0")
    bad.trickle = {"manifest"}  # headers at once, then 5 bytes a second
    cfg = _config(tmp_path, bad, target_registry.host, '["1.0"]', "request_timeout: 1s")
    code, text, took = _timed(capsys, "sync", "-c", str(cfg))
    assert code == 1, text
    assert f"manifest {bad.host}/hostile/app:1.0" in text
    assert "did not answer in full within 1 s" in text
    assert f"registries.{bad.host}.request_timeout" in text
    assert took < DEADLINE
    assert 1 <= bad.seen("manifest") <= 1 + 4  # HEAD, then at most 4 tries of the GET


def test_token_endpoint_that_never_answers(bad: SlowRegistry, target_registry, tmp_path, capsys):
    bad.add_image("hostile/app", "1.0")
    bad.auth = True
    bad.hang = {"token"}
    cfg = _config(tmp_path, bad, target_registry.host, '["1.0"]', "request_timeout: 1s")
    code, text, took = _timed(capsys, "sync", "-c", str(cfg))
    assert code != 0, text
    assert f"token request to http://{bad.host}/token" in text
    assert "did not answer in full within 1 s" in text
    assert took < DEADLINE
    # the token exchange is retried with its request, not on its own inside each try too
    assert 1 <= bad.seen("token") <= 4 * 2  # the source HEAD and the copy, 4 tries each


def test_one_byte_per_second_blob_is_a_stall(bad: SlowRegistry, target_registry, tmp_path, capsys):
    bad.interval = 1.0
    bad.add_image("hostile/app", "1.0", layer_size=4096)
    bad.trickle = {"blob"}
    limits = "stall_window: 1s, stall_min_kib: 1"
    cfg = _config(tmp_path, bad, target_registry.host, '["1.0"]', limits)
    code, text, took = _timed(capsys, "sync", "-c", str(cfg))
    assert code == 1, text
    assert f"from {bad.host}/hostile/app" in text and "the transfer stalled" in text, text
    assert "less than 1 KiB in 1 s" in text and f"registry {bad.host}" in text
    assert took < DEADLINE


# aiohttp closes a cancelled upload's socket gracefully, which waits for its unsent buffer to
# drain to a peer that never reads: the socket is only reclaimed by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_target_that_never_reads_an_upload_is_a_stall(tmp_path, capsys):
    with SlowRegistry() as source, SlowRegistry() as target:
        source.add_image("hostile/app", "1.0", layer_size=32 * 1024 * 1024)
        target.hang = {"upload"}  # accepts the PUT, never reads its body
        cfg = write_allowlist(
            tmp_path / "imagegate.yaml",
            target=target.host,
            images=f'- source: {source.host}/hostile/app\n  tags: ["1.0"]\n',
            extra=f'registries:\n  "{target.host}": {{stall_window: 1s, stall_min_kib: 1}}\n',
        )
        code, text, took = _timed(capsys, "sync", "-c", str(cfg))
    assert code == 1, text
    assert "upload of blob" in text and "the transfer stalled" in text, text
    assert f"registry {target.host}" in text
    assert took < DEADLINE
    gc.collect()  # reclaim that socket here, under this test's warning filter


def test_index_nested_deeper_than_the_limit_is_refused(
    bad: SlowRegistry, target_registry, tmp_path, capsys
):
    bad.nest("hostile/app", "1.0", depth=1000)
    cfg = _config(tmp_path, bad, target_registry.host, '["1.0"]')
    code, text, _ = _timed(capsys, "sync", "-c", str(cfg))
    assert code == 1, text
    assert f"{bad.host}/hostile/app:1.0@sha256:" in text, text
    assert "indexes are nested more than 8 levels deep" in text, text
    assert bad.seen("manifest") < 40  # it stopped descending; 1,001 manifests were never read


def test_index_nested_within_the_limit_is_copied(
    bad: SlowRegistry, target_registry, tmp_path, capsys
):
    top = bad.nest("hostile/app", "1.0", depth=3)
    cfg = _config(tmp_path, bad, target_registry.host, '["1.0"]')
    code, out, err = cli(capsys, "sync", "-c", str(cfg), "--output", "json")
    assert code == 0, err
    assert json.loads(out)["copied"] == 1
    assert top.startswith("sha256:")


@pytest.mark.parametrize("mode", ["self", "pingpong", "endless"])
def test_tag_list_that_never_ends_fails_clearly(
    bad: SlowRegistry, target_registry, tmp_path, capsys, mode
):
    bad.tags_mode = mode
    bad.tags_per_page = 1000  # endless: the tag cap is reached after 200 pages
    cfg = _config(tmp_path, bad, target_registry.host, "{include: ['^p']}")
    code, text, took = _timed(capsys, "plan", "-c", str(cfg))
    assert code == 1, text
    assert f"tag list of {bad.host}/hostile/app" in text
    assert "sent a tag list that does not end" in text
    why = "more than 200000 tags" if mode == "endless" else "a page already read (a loop)"
    assert why in text
    assert took < DEADLINE


def test_redos_pattern_finishes_fast(bad: SlowRegistry, target_registry, tmp_path, capsys):
    evil = ["a" * n + "b" for n in range(20, 60)]  # Python's re takes ~2**n steps on each
    bad.add_image("hostile/app", "aaaa")
    bad.set_tags("hostile/app", [*evil, "aaaa", "x" * 129])
    cfg = _config(tmp_path, bad, target_registry.host, "{include: ['^(a+)+$']}")
    code, out, err = cli(capsys, "plan", "-c", str(cfg), "--output", "json")
    assert code == 0, err
    assert [a["tag"] for a in json.loads(out)["actions"]] == ["aaaa"]


def test_pattern_the_engine_cannot_run_is_a_config_error(target_registry, tmp_path, capsys):
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images="- source: example.com/app\n  tags: {include: ['^(v)\\1']}\n",
    )
    code, _, err = cli(capsys, "plan", "-c", str(cfg))
    assert code == 3
    line = err.strip()
    assert "\n" not in line
    assert f"{cfg}:8: images[0].tags.include: unsupported regular expression" in line, line
    assert "backreferences like \\1 are not supported" in line


def test_ctrl_c_stops_a_run_stalled_on_a_registry(bad: SlowRegistry, target_registry, tmp_path):
    bad.add_image("hostile/app", "1.0")
    bad.hang = {"manifest"}  # the default limits: a minute of nothing
    cfg = _config(tmp_path, bad, target_registry.host, '["1.0"]')
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagegate", "plan", "-c", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        until = time.monotonic() + DEADLINE
        while bad.seen("manifest") == 0 and proc.poll() is None and time.monotonic() < until:
            time.sleep(0.02)  # polling a condition: the request has reached the server
        assert bad.seen("manifest") >= 1 and proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
